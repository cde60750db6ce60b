-- Validated macro series, typed; one row per (date the value became public, series).
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
        units as series_units,
        frequency as series_frequency,
        observation_date,
        cast(value as double) as series_value,
        cast(max_stale_sessions as integer) as max_stale_sessions,
        source,
    from validated_macro
)

select * from final
