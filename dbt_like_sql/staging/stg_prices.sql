-- Validated daily prices, typed and renamed for analysis; one row per (date, ticker).
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
        -- a source without dividend adjustment (e.g. a csv export) falls back to the split-adjusted close
        cast(coalesce(adj_close, close) as double) as total_return_price,
        adj_close is null as is_total_return_estimated,
        cast(volume as double) as volume_shares,
        source,
    from validated_prices
)

select * from final
