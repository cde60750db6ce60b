-- Macro series on every session, carried forward at most 5 sessions over gaps (futures holidays), with the age of each value.
-- lookback_sessions: 5
-- date_column: date
with

macro as (
    select * from staging.stg_macro
    where date >= $lookback_start and date < $end_date
),

sessions as (
    select distinct date from staging.stg_prices
    where date >= $lookback_start and date < $end_date
),

series as (
    select distinct series, series_kind from macro
),

grid as (
    select
        sessions.date,
        series.series,
        series.series_kind,
    from sessions
    cross join series
),

filled as (
    select
        grid.date,
        grid.series,
        grid.series_kind,
        last_value(macro.series_value ignore nulls) over carry as series_value,
        last_value(macro.date ignore nulls) over carry as observed_date,
        last_value(macro.source ignore nulls) over carry as source,
    from grid
    left join macro
        on macro.date = grid.date
        and macro.series = grid.series
    window carry as (partition by grid.series order by grid.date rows between 5 preceding and current row)
),

final as (
    select
        date,
        series,
        series_kind,
        series_value,
        observed_date,
        observed_date < date as is_carried_forward,
        source,
    from filled
    where series_value is not null
)

select * from final
