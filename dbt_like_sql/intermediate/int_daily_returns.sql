-- Daily total returns per ticker (close-to-close on the dividend-adjusted price); null on a ticker's first session.
-- lookback_sessions: 1
-- date_column: date
with

prices as (
    select * from staging.stg_prices
    where date >= $lookback_start and date < $end_date
),

with_previous as (
    select
        date,
        ticker,
        total_return_price,
        lag(total_return_price) over (partition by ticker order by date) as previous_total_return_price,
        lag(date) over (partition by ticker order by date) as previous_date,
        source,
    from prices
),

final as (
    select
        date,
        ticker,
        previous_date,
        total_return_price / previous_total_return_price - 1 as return_1d,
        ln(total_return_price / previous_total_return_price) as log_return_1d,
        source,
    from with_previous
)

select * from final
