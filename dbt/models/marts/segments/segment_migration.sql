{#-
    Segment migration matrix: for each segment type and each pair of consecutive run dates in
    analytics.segment_membership_runs, how many parties went from each segment to each segment.
    A party present on one date only moves from or to '(absent)' (a new prospect, an
    organisation that appeared, a person merged away), so every party of both dates is counted
    once and the matrix sums to the parties of either date. Consecutive dates are the dates the
    pipeline ran on; to compare any two dates, take the periods of history.hist_segment_membership
    that cover each (valid_from <= date < valid_to) and join them on party_id and segment_type.

    From the changes, not from a snapshot per date: the moves of a pair are the changes on its
    later date (from the key's previous change); the parties that stayed in a segment are those
    held in it on the earlier date (entries minus exits up to that date) less those who moved out.

    Incremental: a pair is final once a later run date exists, so a daily run builds only the
    pairs not built yet and the latest pair (its to_date is today's as-of date, which a re-run
    replaces), not every pair of the history again. A run date inserted between two built dates
    (only when the as-of date moves back, e.g. after an erasure, which runs a full refresh) needs
    --full-refresh.
-#}
{{ config(materialized='incremental', incremental_strategy='delete+insert', unique_key=['from_date', 'to_date'],
          on_schema_change='fail') }}
with

changes as (
    select
        as_of_date, party_id, segment_type, segment,
        lag(segment) over (partition by party_id, segment_type order by as_of_date) as previous_segment
    from {{ source('analytics', 'segment_membership_changes') }}
),

date_pairs as (
    select from_date, to_date
    from (
        select lag(as_of_date) over (order by as_of_date) as from_date, as_of_date as to_date
        from {{ source('analytics', 'segment_membership_runs') }}
    ) as ordered
    where from_date is not null
),

pairs_to_build as (
    select p.from_date, p.to_date
    from date_pairs as p
    {%- if is_incremental() %}
    where p.to_date = (select max(to_date) from date_pairs)
        or not exists (select 1 from {{ this }} as built
                       where built.from_date = p.from_date and built.to_date = p.to_date)
    {%- endif %}
),

moves as (
    select
        c.segment_type, p.from_date, p.to_date,
        coalesce(c.previous_segment, '(absent)') as from_segment,
        coalesce(c.segment, '(absent)') as to_segment,
        count(*) as parties
    from pairs_to_build as p
    join changes as c on c.as_of_date = p.to_date
    group by c.segment_type, p.from_date, p.to_date, coalesce(c.previous_segment, '(absent)'), coalesce(c.segment, '(absent)')
),

{#- +1 when a party enters a segment, -1 when it moves out or leaves: summed up to a date, the parties held -#}
segment_entries_and_exits as (
    select as_of_date, segment_type, segment, sum(delta) as net
    from (
        select as_of_date, segment_type, segment, 1 as delta from changes where segment is not null
        union all
        select as_of_date, segment_type, previous_segment as segment, -1 as delta from changes where previous_segment is not null
    ) as deltas
    group by as_of_date, segment_type, segment
),

held_on_from_date as (
    select p.from_date, p.to_date, e.segment_type, e.segment, sum(e.net) as parties
    from pairs_to_build as p
    join segment_entries_and_exits as e on e.as_of_date <= p.from_date
    group by p.from_date, p.to_date, e.segment_type, e.segment
),

stays as (
    select
        h.segment_type, h.from_date, h.to_date, h.segment as from_segment, h.segment as to_segment,
        h.parties - coalesce(sum(m.parties), 0) as parties
    from held_on_from_date as h
    left join moves as m
        on m.from_date = h.from_date and m.to_date = h.to_date
        and m.segment_type = h.segment_type and m.from_segment = h.segment
    group by h.segment_type, h.from_date, h.to_date, h.segment, h.parties
)

select segment_type, from_date, to_date, from_segment, to_segment, cast(parties as bigint) as parties
from moves
union all
select segment_type, from_date, to_date, from_segment, to_segment, cast(parties as bigint) as parties
from stays
where parties > 0
