-- Every alert, dated the session its condition started: tier, type, dimension, value, threshold, message.
with

alerts as (
    select * from signals.alerts
    where date >= $start_date and date < $end_date
),

final as (
    select
        date,
        tier,
        alert_type,
        dimension,
        value,
        threshold,
        message,
    from alerts
)

select * from final
