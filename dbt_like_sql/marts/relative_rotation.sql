-- RRG-style relative rotation per sector, daily and weekly: RS-Ratio, RS-Momentum, quadrant, velocity, heading.
with

sectors as (
    select * from raw.universe_membership
    where date >= $start_date and date < $end_date and role = 'sector'
),

rotation as (
    select * from signals.relative_rotation
    where date >= $start_date and date < $end_date
),

features as (
    select * from signals.features
    where date >= $start_date and date < $end_date
),

final as (
    select
        rotation.date,
        rotation.ticker,
        sectors.name as sector,
        rotation.frequency,
        rotation.rs_ratio,
        rotation.rs_momentum,
        rotation.quadrant,
        rotation.velocity,
        rotation.heading_deg,
        rotation.is_warming_up,
        features.source,
    from rotation
    inner join sectors using (date, ticker)
    left join features using (date, ticker)
)

select * from final
