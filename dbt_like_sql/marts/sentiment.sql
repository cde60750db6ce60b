-- Dimension x date sentiment: the four scores in [-1, +1] with band, seed-004 reading and top contributors.
with

scores as (
    select * from signals.sentiment_scores
    where date >= $start_date and date < $end_date
),

features as (
    select * from signals.features
    where date >= $start_date and date < $end_date
),

sources as (
    -- the data source of the prices behind each date's scores
    select
        date,
        string_agg(distinct source, ', ' order by source) as source,
    from features
    group by date
),

dimension_names as (
    -- one name per sentiment dimension in every mart: the column names of marts.sentiment_wide
    select * from (
        values ('cycle', 'economic_cycle', 1), ('rates', 'interest_rates', 2), ('inflation', 'inflation', 3),
            ('risk', 'risk_appetite', 4)
    ) as d (signal_dimension, dimension, dimension_order)
),

final as (
    select
        scores.date,
        coalesce(dimension_names.dimension, scores.dimension) as dimension,
        dimension_names.dimension_order,
        scores.label,
        scores.score,
        scores.band,
        scores.interpretation,
        scores.top_contributors,
        sources.source,
    from scores
    left join dimension_names on dimension_names.signal_dimension = scores.dimension
    left join sources using (date)
)

select * from final
