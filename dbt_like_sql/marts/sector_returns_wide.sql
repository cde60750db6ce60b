-- Wide view of marts.sector_returns for BI charts: one row per (date, sector), one column per window (percent).
-- materialized: view
with

returns as (
    select * from marts.sector_returns
),

final as (
    select
        date,
        ticker,
        sector,
        max(value) filter (where metric = '1D') as return_1d_pct,
        max(value) filter (where metric = '5D') as return_5d_pct,
        max(value) filter (where metric = '20D') as return_20d_pct,
        max(value) filter (where metric = '60D') as return_60d_pct,
        max(value) filter (where metric = '126D') as return_126d_pct,
        max(value) filter (where metric = 'YTD') as return_ytd_pct,
        max(value) filter (where metric = '252D') as return_252d_pct,
        bool_or(is_total_return_estimated) as is_total_return_estimated,
        max(source) as source,
    from returns
    group by date, ticker, sector
)

select * from final
