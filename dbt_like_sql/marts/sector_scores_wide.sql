-- Wide view of marts.sector_scores for BI charts: one row per (date, sector), one column per score (ranks as integers).
-- materialized: view
with

scores as (
    select * from marts.sector_scores
),

final as (
    select
        date,
        ticker,
        sector,
        max(value) filter (where metric = 'relative_strength_change_20d_pct') as relative_strength_change_20d_pct,
        max(value) filter (where metric = 'composite_score') as composite_score,
        cast(max(value) filter (where metric = 'composite_rank') as integer) as composite_rank,
        max(value) filter (where metric = 'sri_total_score') as sri_total_score,
        cast(max(value) filter (where metric = 'sri_rank') as integer) as sri_rank,
        max(value) filter (where metric = 'rs_ratio') as rs_ratio,
        max(value) filter (where metric = 'rs_momentum') as rs_momentum,
        max(value) filter (where metric = 'relative_volume_20d') as relative_volume_20d,
        bool_or(is_total_return_estimated) as is_total_return_estimated,
        max(source) as source,
    from scores
    group by date, ticker, sector
)

select * from final
