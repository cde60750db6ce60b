-- Daily backtest of each book and the benchmark: returns in percent, equity (1.0 at the start), drawdown, turnover and
-- cost.
-- grain: date, book
with

backtest as (
    select * from strategy.backtest
    where date >= $start_date and date < $end_date
),

sessions as (
    -- the data source of each session (marts.market_overview: the benchmark's row)
    select date, source from marts.market_overview
    where date >= $start_date and date < $end_date
),

final as (
    select
        backtest.date,
        backtest.strategy as book,
        100 * backtest.net_return as net_return_pct,
        100 * backtest.gross_return as gross_return_pct,
        100 * backtest.benchmark_return as benchmark_return_pct,
        backtest.equity,
        100 * backtest.drawdown as drawdown_pct,
        backtest.turnover,
        1e4 * backtest.cost as cost_bps,
        cast(backtest.holdings as integer) as holdings,
        backtest.is_trade_day,
        sessions.source,
    from backtest
    left join sessions using (date)
)

select * from final
