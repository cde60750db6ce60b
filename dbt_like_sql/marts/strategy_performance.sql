-- Performance of each book and the benchmark from the backtest start up to each date: total return, CAGR, volatility,
-- Sharpe, Sortino, max drawdown, turnover, costs, hit rate.
-- grain: date, book
with

performance as (
    select * from strategy.performance
    where date >= $start_date and date < $end_date
),

sessions as (
    -- the data source of each session (marts.market_overview: the benchmark's row)
    select date, source from marts.market_overview
    where date >= $start_date and date < $end_date
),

final as (
    select
        performance.date,
        performance.strategy as book,
        cast(performance.days as integer) as days,
        100 * performance.total_return as total_return_pct,
        100 * performance.cagr as cagr_pct,
        100 * performance.annualised_volatility as annualised_volatility_pct,
        performance.sharpe,
        performance.sortino,
        100 * performance.max_drawdown as max_drawdown_pct,
        performance.average_annual_turnover,
        100 * performance.total_cost as total_cost_pct,
        performance.hit_rate_vs_benchmark,
        sessions.source,
    from performance
    left join sessions using (date)
)

select * from final
