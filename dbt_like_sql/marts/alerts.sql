-- Every alert, dated the session its condition started: tier, type, sentiment dimension, value, threshold, message.
with

alerts as (
    select * from signals.alerts
    where date >= $start_date and date < $end_date
),

sessions as (
    -- the data source of each session (marts.market_overview: the benchmark's row)
    select date, source from marts.market_overview
    where date >= $start_date and date < $end_date
),

dimension_names as (
    -- one name per sentiment dimension in every mart: the column names of marts.sentiment_wide
    select * from (
        values ('cycle', 'economic_cycle'), ('rates', 'interest_rates'), ('inflation', 'inflation'),
            ('risk', 'risk_appetite')
    ) as d (signal_dimension, dimension)
),

final as (
    select
        alerts.date,
        alerts.tier,
        alerts.alert_type,
        coalesce(dimension_names.dimension, alerts.dimension) as dimension,
        alerts.value,
        alerts.threshold,
        alerts.message,
        sessions.source,
    from alerts
    left join dimension_names on dimension_names.signal_dimension = alerts.dimension
    left join sessions using (date)
)

select * from final
