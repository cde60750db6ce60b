-- Validated macro series, typed; one row per (date, series).
-- date_column: date
with

validated_macro as (
    select * from validated.macro
    where date >= $start_date and date < $end_date
),

final as (
    select
        date,
        series,
        ticker as source_ticker,
        kind as series_kind,
        cast(value as double) as series_value,
        source,
    from validated_macro
)

select * from final
