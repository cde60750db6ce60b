-- One row per session: benchmark returns, breadth, leaders and laggards, the four sentiment scores, the day's alerts,
-- and whether a stale or estimated input was used.
-- grain: date
with

members as (
    select * from raw.universe_membership
    where date >= $start_date and date < $end_date
),

features as (
    select * from signals.features
    where date >= $start_date and date < $end_date
),

rankings as (
    select * from signals.sector_rankings
    where date >= $start_date and date < $end_date
),

sentiment as (
    -- the four scores, one column each, exactly as the BI view names them
    select * from marts.sentiment_wide
    where date >= $start_date and date < $end_date
),

alerts as (
    select * from signals.alerts
    where date >= $start_date and date < $end_date
),

macro_regime as (
    select * from signals.macro_regime
    where date >= $start_date and date < $end_date
),

benchmark as (
    select
        features.date,
        members.ticker as benchmark,
        100 * features.return_1d as benchmark_return_1d_pct,
        100 * features.return_20d as benchmark_return_20d_pct,
        100 * features.return_ytd as benchmark_return_ytd_pct,
        features.is_total_return_estimated as is_benchmark_return_estimated,
        features.source,
    from features
    inner join members using (date, ticker)
    where members.role = 'benchmark'
),

breadth as (
    select
        features.date,
        count(*) filter (where features.return_1d > 0) as sectors_up_1d,
        count(*) filter (where features.return_1d is not null) as sectors_with_return_1d,
    from features
    inner join members using (date, ticker)
    where members.role = 'sector'
    group by features.date
),

ranked as (
    select
        date,
        max(ranked_sectors) as sectors_ranked,
        -- the top and bottom thirds (at least one): vocabulary.leader_count
        string_agg(ticker, ', ' order by rank) filter (where rank <= greatest(1, ranked_sectors // 3)) as leaders,
        string_agg(ticker, ', ' order by rank desc)
            filter (where rank > ranked_sectors - greatest(1, ranked_sectors // 3)) as laggards,
    from rankings
    where is_ranked
    group by date
),

alert_counts as (
    select
        date,
        count(*) filter (where tier = 'CRITICAL') as critical_alerts,
        count(*) filter (where tier = 'HIGH') as high_alerts,
        count(*) filter (where tier = 'MEDIUM') as medium_alerts,
    from alerts
    group by date
),

stale_macro as (
    -- a macro series carried forward past its cadence fed the macro regime (and so the SRI) that day
    select
        date,
        bool_or(is_stale_input) as uses_stale_macro,
    from macro_regime
    group by date
),

stale_macro_series as (
    -- stale_series is a comma-separated list per dimension: one sorted list of distinct series per date
    select
        date,
        string_agg(distinct series, ', ' order by series) as stale_macro_series,
    from (
        select date, trim(unnest(string_split(stale_series, ','))) as series
        from macro_regime
        where stale_series <> ''
    ) as stale
    group by date
),

final as (
    select
        benchmark.date,
        benchmark.benchmark,
        benchmark.benchmark_return_1d_pct,
        benchmark.benchmark_return_20d_pct,
        benchmark.benchmark_return_ytd_pct,
        breadth.sectors_up_1d,
        breadth.sectors_with_return_1d,
        ranked.sectors_ranked,
        ranked.leaders,
        ranked.laggards,
        sentiment.economic_cycle,
        sentiment.interest_rates,
        sentiment.inflation,
        sentiment.risk_appetite,
        coalesce(alert_counts.critical_alerts, 0) as critical_alerts,
        coalesce(alert_counts.high_alerts, 0) as high_alerts,
        coalesce(alert_counts.medium_alerts, 0) as medium_alerts,
        benchmark.is_benchmark_return_estimated,
        stale_macro.uses_stale_macro,
        stale_macro_series.stale_macro_series,
        benchmark.source,
    from benchmark
    left join breadth using (date)
    left join ranked using (date)
    left join sentiment using (date)
    left join alert_counts using (date)
    left join stale_macro using (date)
    left join stale_macro_series using (date)
)

select * from final
