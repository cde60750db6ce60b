-- Macro series on every session: level with its units, 1- and 20-session changes, the date it was observed and the
-- period it describes, and how stale it is.
-- grain: date, series
-- lookback_sessions: 20
with

macro as (
    select * from intermediate.int_macro_daily
    where date >= $lookback_start and date < $end_date
),

sessions as (
    -- the session calendar of the read window, numbered, so that changes are over sessions, not rows
    select
        date,
        row_number() over (order by date) as session_number,
    from (select distinct date from macro) as macro_dates
),

numbered as (
    select
        macro.*,
        sessions.session_number,
    from macro
    inner join sessions using (date)
),

changes as (
    -- the value 1 and 20 sessions earlier; a series without a row that session has no change
    select
        today.*,
        today.series_value - day_before.series_value as change_1d,
        today.series_value - month_before.series_value as change_20d,
        day_before.series_value as value_1d_ago,
        month_before.series_value as value_20d_ago,
    from numbered as today
    left join numbered as day_before
        on day_before.series = today.series and day_before.session_number = today.session_number - 1
    left join numbered as month_before
        on month_before.series = today.series and month_before.session_number = today.session_number - 20
),

final as (
    select
        date,
        series,
        series_kind,
        series_units,
        series_value as value,
        change_1d,
        change_20d,
        -- relative changes only where a ratio means something: positive prices, indices and levels (a yield
        -- or a rate moves in percentage points, and can cross zero)
        case when series_kind in ('price', 'index', 'level') and value_1d_ago > 0
            then 100 * (series_value / value_1d_ago - 1) end as change_1d_pct,
        case when series_kind in ('price', 'index', 'level') and value_20d_ago > 0
            then 100 * (series_value / value_20d_ago - 1) end as change_20d_pct,
        observed_date,
        observation_date,
        cast(stale_sessions as integer) as stale_sessions,
        is_carried_forward,
        is_stale,
        source,
    from changes
    where date >= $start_date
)

select * from final
