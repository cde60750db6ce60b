-- Macro series on every session (carried forward at most 5 sessions over gaps), with the age of each value.
with

macro as (
    select * from intermediate.int_macro_daily
    where date >= $start_date and date < $end_date
),

final as (
    select
        date,
        series,
        series_kind,
        series_value as value,
        observed_date,
        is_carried_forward,
        source,
    from macro
)

select * from final
