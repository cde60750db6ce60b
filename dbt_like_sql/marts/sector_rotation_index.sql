-- Sector Rotation Index per sector and date: four 0-100 components, total (0-400 with equal weights) and rank, flagged
-- when a stale macro series fed the economic component.
-- grain: date, ticker
with

sectors as (
    select * from raw.universe_membership
    where date >= $start_date and date < $end_date and role = 'sector'
),

rotation_index as (
    select * from signals.sector_rotation_index
    where date >= $start_date and date < $end_date
),

features as (
    select * from signals.features
    where date >= $start_date and date < $end_date
),

final as (
    select
        rotation_index.date,
        rotation_index.ticker,
        sectors.name as sector,
        rotation_index.economic_score,
        rotation_index.performance_score,
        rotation_index.flow_score,
        rotation_index.technical_score,
        rotation_index.total_score,
        cast(rotation_index.sri_rank as integer) as sri_rank,
        rotation_index.is_scored,
        rotation_index.uses_stale_macro,
        features.source,
    from rotation_index
    inner join sectors using (date, ticker)
    left join features using (date, ticker)
)

select * from final
