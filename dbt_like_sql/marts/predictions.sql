-- Walk-forward model prediction per sector and date (forward relative return vs the benchmark), its rank, the model
-- that made it, and the model's out-of-sample skill known that day.
-- grain: date, ticker
with

predictions as (
    select * from strategy.predictions
    where date >= $start_date and date < $end_date
),

model_runs as (
    -- a prediction names the model trained on the first session of its period, possibly before the window
    select * from strategy.model_runs
    where date < $end_date
),

model_skill as (
    -- every skill row up to the window's end: the as-of join picks the last one known on each date
    select * from strategy.skill
    where date < $end_date and signal = 'model'
),

sectors as (
    select * from raw.universe_membership
    where date >= $start_date and date < $end_date and role = 'sector'
),

features as (
    select * from signals.features
    where date >= $start_date and date < $end_date
),

with_model as (
    select
        predictions.date,
        predictions.ticker,
        sectors.name as sector,
        predictions.prediction_strength,
        predictions.prediction_rank,
        predictions.ranked_sectors,
        predictions.model_date,
        model_runs.horizon_sessions,
        model_runs.training_last_date as model_training_last_date,
        features.source,
    from predictions
    inner join sectors using (date, ticker)
    left join model_runs on model_runs.date = predictions.model_date
    left join features using (date, ticker)
),

final as (
    select
        with_model.date,
        with_model.ticker,
        with_model.sector,
        with_model.prediction_strength,
        cast(with_model.prediction_rank as integer) as prediction_rank,
        cast(with_model.ranked_sectors as integer) as ranked_sectors,
        with_model.model_date,
        cast(with_model.horizon_sessions as integer) as horizon_sessions,
        with_model.model_training_last_date,
        model_skill.date as skill_as_of,
        model_skill.ic_mean as skill_ic_mean,
        model_skill.ic_t_stat_non_overlapping as skill_ic_t_stat,
        cast(model_skill.non_overlapping_dates as integer) as skill_non_overlapping_dates,
        model_skill.hit_rate_pooled as skill_hit_rate,
        with_model.source,
    from with_model
    asof left join model_skill
        on with_model.date >= model_skill.date
)

select * from final
