-- Out-of-sample skill of the model and of two baselines (momentum, composite): rank IC and hit rate per signal date,
-- and their running means and t-statistics, dated when the outcome became known.
-- grain: date, signal
with

skill as (
    select * from strategy.skill
    where date >= $start_date and date < $end_date
),

model_runs as (
    select * from strategy.model_runs
    where date < $end_date
),

horizon as (
    -- the outcome horizon of the stored models (strategy/skill refuses mixed horizons)
    select max(horizon_sessions) as horizon_sessions
    from model_runs
),

sessions as (
    -- the data source of each session (marts.market_overview: the benchmark's row)
    select date, source from marts.market_overview
    where date >= $start_date and date < $end_date
),

final as (
    select
        skill.date,
        skill.signal_date,
        skill.signal,
        cast(horizon.horizon_sessions as integer) as horizon_sessions,
        skill.ic,
        skill.hit_rate,
        cast(skill.sectors as integer) as sectors,
        cast(skill.dates_evaluated as integer) as dates_evaluated,
        skill.ic_mean,
        skill.ic_std,
        skill.ic_t_stat,
        cast(skill.non_overlapping_dates as integer) as non_overlapping_dates,
        skill.ic_mean_non_overlapping,
        skill.ic_t_stat_non_overlapping,
        skill.hit_rate_pooled,
        sessions.source,
    from skill
    cross join horizon
    left join sessions using (date)
)

select * from final
