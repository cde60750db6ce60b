-- Target weights per book, sector and rebalance session (seed article 000's rule on the model and on the composite,
-- top-3 momentum, equal weight), with the previous weight and the score that drove them.
-- grain: date, book, ticker
with

allocations as (
    select * from strategy.allocations
    where date >= $start_date and date < $end_date
),

sectors as (
    select * from raw.universe_membership
    where date >= $start_date and date < $end_date and role = 'sector'
),

features as (
    select * from signals.features
    where date >= $start_date and date < $end_date
),

final as (
    select
        allocations.date,
        allocations.book,
        allocations.ticker,
        sectors.name as sector,
        allocations.weight,
        allocations.previous_weight,
        allocations.weight - coalesce(allocations.previous_weight, 0) as weight_change,
        allocations.score,
        cast(allocations.score_rank as integer) as score_rank,
        allocations."group" as rule_group,
        features.source,
    from allocations
    left join sectors using (date, ticker)
    left join features using (date, ticker)
)

select * from final
