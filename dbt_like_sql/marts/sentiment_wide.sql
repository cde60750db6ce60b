-- Wide view of marts.sentiment: one row per date, one column per dimension score.
-- materialized: view
with

sentiment as (
    select * from marts.sentiment
),

final as (
    select
        date,
        max(score) filter (where dimension = 'cycle') as economic_cycle,
        max(score) filter (where dimension = 'rates') as interest_rates,
        max(score) filter (where dimension = 'inflation') as inflation,
        max(score) filter (where dimension = 'risk') as risk_appetite,
    from sentiment
    group by date
)

select * from final
