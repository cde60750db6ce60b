-- Macro series on every session, carried forward over gaps at most the series' max_stale_sessions, with the age of each
-- value and whether it is stale.
-- grain: date, series
-- lookback_sessions: 130
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

numbered_sessions as (
    select
        date,
        row_number() over (order by date) as session_number,
    from sessions
),

series as (
    -- the latest policy of each series (the universe file may change it)
    select
        series,
        arg_max(series_kind, date) as series_kind,
        arg_max(series_units, date) as series_units,
        arg_max(series_frequency, date) as series_frequency,
        arg_max(max_stale_sessions, date) as max_stale_sessions,
    from macro
    group by series
),

grid as (
    select
        numbered_sessions.date,
        numbered_sessions.session_number,
        series.series,
        series.series_kind,
        series.series_units,
        series.series_frequency,
        series.max_stale_sessions,
    from numbered_sessions
    cross join series
),

filled as (
    select
        grid.date,
        grid.series,
        grid.series_kind,
        grid.series_units,
        grid.series_frequency,
        grid.max_stale_sessions,
        grid.session_number,
        last_value(macro.series_value ignore nulls) over carry as series_value,
        last_value(macro.date ignore nulls) over carry as observed_date,
        last_value(macro.observation_date ignore nulls) over carry as observation_date,
        last_value(case when macro.date is not null then grid.session_number end ignore nulls) over carry
            as observed_session_number,
        last_value(macro.source ignore nulls) over carry as source,
    from grid
    left join macro
        on macro.date = grid.date
        and macro.series = grid.series
    window carry as (partition by grid.series order by grid.date rows between unbounded preceding and current row)
),

final as (
    select
        date,
        series,
        series_kind,
        series_units,
        series_frequency,
        series_value,
        observed_date,
        observation_date,
        cast(session_number - observed_session_number as integer) as stale_sessions,
        observed_date < date as is_carried_forward,
        -- stale: older than the series' normal cadence (a monthly value carried between releases is not)
        session_number - observed_session_number > case series_frequency
            when 'daily' then 0 when 'weekly' then 5 when 'monthly' then 23 else 66 end as is_stale,
        source,
    from filled
    where series_value is not null
        and session_number - observed_session_number <= max_stale_sessions
)

select * from final
