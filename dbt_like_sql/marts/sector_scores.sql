-- Sector x date scores, long: 20-session relative strength change (%), composite score and rank, SRI total and rank,
-- RS-Ratio and RS-Momentum, relative volume.
-- grain: date, ticker, metric
with

sectors as (
    select * from raw.universe_membership
    where date >= $start_date and date < $end_date and role = 'sector'
),

features as (
    select * from signals.features
    where date >= $start_date and date < $end_date
),

rankings as (
    select * from signals.sector_rankings
    where date >= $start_date and date < $end_date
),

rotation_index as (
    select * from signals.sector_rotation_index
    where date >= $start_date and date < $end_date
),

rotation as (
    select * from signals.relative_rotation
    where date >= $start_date and date < $end_date and frequency = 'daily'
),

joined as (
    select
        sectors.date,
        sectors.ticker,
        sectors.name as sector,
        100 * features.relative_strength_change_20d as relative_strength_change_20d_pct,
        rankings.composite_score,
        cast(rankings.rank as double) as composite_rank,
        rotation_index.total_score as sri_total_score,
        cast(rotation_index.sri_rank as double) as sri_rank,
        rotation.rs_ratio,
        rotation.rs_momentum,
        features.relative_volume_20d,
        features.is_total_return_estimated,
        features.source,
    from sectors
    left join features using (date, ticker)
    left join rankings using (date, ticker)
    left join rotation_index using (date, ticker)
    left join rotation using (date, ticker)
),

metrics as (
    select * from (
        values
            ('relative_strength_change_20d_pct', 1),
            ('composite_score', 2),
            ('composite_rank', 3),
            ('sri_total_score', 4),
            ('sri_rank', 5),
            ('rs_ratio', 6),
            ('rs_momentum', 7),
            ('relative_volume_20d', 8)
    ) as m (metric, metric_order)
),

final as (
    select
        joined.date,
        joined.ticker,
        joined.sector,
        metrics.metric,
        metrics.metric_order,
        case metrics.metric
            when 'relative_strength_change_20d_pct' then joined.relative_strength_change_20d_pct
            when 'composite_score' then joined.composite_score
            when 'composite_rank' then joined.composite_rank
            when 'sri_total_score' then joined.sri_total_score
            when 'sri_rank' then joined.sri_rank
            when 'rs_ratio' then joined.rs_ratio
            when 'rs_momentum' then joined.rs_momentum
            when 'relative_volume_20d' then joined.relative_volume_20d
        end as value,
        joined.is_total_return_estimated,
        joined.source,
    from joined
    cross join metrics
)

select * from final
