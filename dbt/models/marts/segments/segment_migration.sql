{#-
    Segment migration matrix: for each segment type and each pair of consecutive as-of dates in
    analytics.segment_membership, how many parties went from each segment to each segment.
    A party present on one date only moves from or to '(absent)' (a new prospect, an
    organisation that appeared, a person merged away), so every party of both dates is counted
    once and the matrix sums to the parties of either date. Consecutive dates are the dates the
    pipeline ran on; to compare any two dates, filter analytics.segment_membership on both and
    join on party_id and segment_type as the CTEs below do (docs/architecture.md).

    Incremental: a pair is final once a later snapshot exists, so a daily run builds only the
    pairs not built yet and the latest pair (its to_date is today's as-of date, which a re-run
    replaces), not every pair of the history again. A snapshot inserted between two built dates
    (only when the as-of date moves back, e.g. after an erasure, which runs a full refresh) needs
    --full-refresh.
-#}
{{ config(materialized='incremental', incremental_strategy='delete+insert', unique_key=['from_date', 'to_date'],
          on_schema_change='fail') }}
with

membership as (
    select as_of_date, party_id, segment_type, segment
    from {{ source('analytics', 'segment_membership') }}
),

run_dates as (
    select distinct as_of_date from membership
),

date_pairs as (
    select from_date, to_date
    from (
        select as_of_date as from_date, lead(as_of_date) over (order by as_of_date) as to_date
        from run_dates
    ) as ordered
    where to_date is not null
),

pairs_to_build as (
    select p.from_date, p.to_date
    from date_pairs as p
    {%- if is_incremental() %}
    where p.to_date = (select max(as_of_date) from run_dates)
        or not exists (select 1 from {{ this }} as built
                       where built.from_date = p.from_date and built.to_date = p.to_date)
    {%- endif %}
),

before_move as (
    select p.from_date, p.to_date, m.segment_type, m.party_id, m.segment
    from pairs_to_build as p
    join membership as m on m.as_of_date = p.from_date
),

after_move as (
    select p.from_date, p.to_date, m.segment_type, m.party_id, m.segment
    from pairs_to_build as p
    join membership as m on m.as_of_date = p.to_date
),

moves as (
    select
        coalesce(b.segment_type, a.segment_type) as segment_type,
        coalesce(b.from_date, a.from_date) as from_date,
        coalesce(b.to_date, a.to_date) as to_date,
        coalesce(b.segment, '(absent)') as from_segment,
        coalesce(a.segment, '(absent)') as to_segment
    from before_move as b
    full outer join after_move as a
        on a.from_date = b.from_date and a.segment_type = b.segment_type and a.party_id = b.party_id
)

select
    segment_type,
    from_date,
    to_date,
    from_segment,
    to_segment,
    cast(count(*) as bigint) as parties
from moves
group by segment_type, from_date, to_date, from_segment, to_segment
