{#-
    Segment membership as SCD type 2 per party x segment type, from the changes that
    analytics.segment_membership_changes keeps: a period runs from the run date a party entered
    or moved into a segment to its next change for that segment type (valid_to exclusive): a
    move, or a leave (segment NULL: then is_deleted, e.g. no purchases any more for RFM, or the
    party was merged into another). A period without a later change is current.

    Segments are model outputs: this is what the segment rules said at each run, not a fact
    dated by a source. last_as_of_date is the last run date that held the period (the run date
    before the one that ended it; the latest run date while current), from
    analytics.segment_membership_runs. Built from the changes, so it costs what changed, not a
    copy of every party per run. The membership tables record no run time, so neither does this.
    Built after the analytics assets (ON_ANALYTICS in dbt_assets.py).
-#}
with

changes as (
    select
        party_id, segment_type, segment, as_of_date,
        lead(as_of_date) over (partition by party_id, segment_type order by as_of_date) as next_change_date,
        lead(segment) over (partition by party_id, segment_type order by as_of_date) as next_segment
    from {{ source('analytics', 'segment_membership_changes') }}
),

runs as (
    select as_of_date, lag(as_of_date) over (order by as_of_date) as previous_as_of_date
    from {{ source('analytics', 'segment_membership_runs') }}
),

latest_run as (
    select max(as_of_date) as as_of_date
    from {{ source('analytics', 'segment_membership_runs') }}
)

select
    c.party_id,
    c.segment_type,
    c.segment,
    c.as_of_date as valid_from,
    c.next_change_date as valid_to,
    case when c.next_change_date is null then true else false end as is_current,
    case when c.next_change_date is not null and c.next_segment is null then true else false end as is_deleted,
    case when c.next_change_date is not null and c.next_segment is null then c.next_change_date end as deleted_at,
    coalesce(closing.previous_as_of_date, latest_run.as_of_date) as last_as_of_date
from changes as c
left join runs as closing on closing.as_of_date = c.next_change_date
cross join latest_run
where c.segment is not null
