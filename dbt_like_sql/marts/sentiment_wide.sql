-- Wide view of marts.sentiment: one row per date, one column per dimension score (named as the dimension).
-- materialized: view
with

sentiment as (
    select * from marts.sentiment
),

final as (
    select
        date,
        max(score) filter (where dimension = 'economic_cycle') as economic_cycle,
        max(score) filter (where dimension = 'interest_rates') as interest_rates,
        max(score) filter (where dimension = 'inflation') as inflation,
        max(score) filter (where dimension = 'risk_appetite') as risk_appetite,
        max(source) as source,
    from sentiment
    group by date
)

select * from final
