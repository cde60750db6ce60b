-- Sector x window total returns in percent (1D .. 252D, YTD), long: the returns heatmap; one row per (date, ticker,
-- metric), flagged where the total return is estimated from closes.
-- grain: date, ticker, metric
with

features as (
    select * from signals.features
    where date >= $start_date and date < $end_date
),

sectors as (
    select * from raw.universe_membership
    where date >= $start_date and date < $end_date and role = 'sector'
),

windows as (
    select * from (
        values ('1D', 1), ('5D', 2), ('20D', 3), ('60D', 4), ('126D', 5), ('YTD', 6), ('252D', 7)
    ) as w (metric, metric_order)
),

final as (
    select
        features.date,
        features.ticker,
        sectors.name as sector,
        windows.metric,
        windows.metric_order,
        100 * case windows.metric
            when '1D' then features.return_1d
            when '5D' then features.return_5d
            when '20D' then features.return_20d
            when '60D' then features.return_60d
            when '126D' then features.return_126d
            when 'YTD' then features.return_ytd
            when '252D' then features.return_252d
        end as value,
        features.is_total_return_estimated,
        features.source,
    from features
    inner join sectors
        on sectors.date = features.date
        and sectors.ticker = features.ticker
    cross join windows
)

select * from final
