-- Dimension x date sentiment: the four scores in [-1, +1] with band, seed-004 reading and top contributors.
with

scores as (
    select * from signals.sentiment_scores
    where date >= $start_date and date < $end_date
),

final as (
    select
        date,
        dimension,
        label,
        score,
        band,
        interpretation,
        top_contributors,
    from scores
)

select * from final
