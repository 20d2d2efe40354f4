{#- Share of the period's call-centre calls resolved on first contact; see the yml. -#}
with

period as (
    select * from {{ ref('metric_period') }}
),

calls as (
    select count(*) as calls,
        count(case when c.first_contact_resolved then 1 end) as resolved_first_time
    from {{ ref('stg_callcentre__calls') }} as c
    cross join period as p
    where c.first_contact_resolved is not null
        and cast(c.started_at as date) > p.period_start
        and cast(c.started_at as date) <= p.period_end
)

select {{ metric_row('first_contact_resolution', 'c.resolved_first_time', 'c.calls',
                     safe_ratio('c.resolved_first_time', 'c.calls'), 'ratio') }}
from calls as c
cross join period as p
