{#-
    Segment membership as SCD type 2 per party x segment type, from the snapshots that
    analytics.segment_membership keeps (one per run's as_of_date). A period runs from the first
    as-of date of an unbroken run of one segment to the next as-of date where the segment
    differs or the party has no row (then is_deleted: the party left the segment type, e.g.
    no purchases any more for RFM, or was merged into another party).

    Segments are model outputs: this is what the segment rules said at each run, not a fact
    dated by a source. A run on a later as-of date adds a snapshot; re-running a date replaces
    it, so history is rebuilt as the table stands. The membership table records no run time,
    so loaded_at is NULL. Built after the analytics assets (ON_ANALYTICS in dbt_assets.py).
-#}
with

membership as (
    select as_of_date as delivery_id, party_id, segment_type, segment
    from {{ source('analytics', 'segment_membership') }}
),

snapshots as (
    select distinct as_of_date as delivery_id, as_of_date as delivery_date,
        cast(null as timestamp) as delivery_loaded_at
    from {{ source('analytics', 'segment_membership') }}
)

select
    party_id, segment_type, segment, valid_from, valid_to, is_current, is_deleted,
    deleted_at, last_delivered_on as last_as_of_date
from {{ full_extract_history('membership', ['party_id', 'segment_type'], ['segment'], 'snapshots', row_order=none) }} as history
