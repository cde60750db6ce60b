-- Validated daily prices, typed and renamed for analysis; one row per (date, ticker).
-- grain: date, ticker
-- date_column: date
with

validated_prices as (
    select * from validated.prices
    where date >= $start_date and date < $end_date
),

final as (
    select
        date,
        ticker,
        cast(open as double) as open_price,
        cast(high as double) as high_price,
        cast(low as double) as low_price,
        cast(close as double) as close_price,
        cast(adj_close as double) as adj_close_price,
        cast(dividend as double) as dividend_per_share,
        cast(split_ratio as double) as split_ratio,
        fetched_on,
        cast(volume as double) as volume_shares,
        source,
    from validated_prices
)

select * from final
