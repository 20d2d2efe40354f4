{#-
    Segment migration matrix: for each segment type and each pair of consecutive run dates in
    analytics.segment_membership_runs, how many parties went from each segment to each segment.
    A party present on one date only moves from or to '(absent)' (a new prospect, an
    organisation that appeared, a person merged away), so every party of both dates is counted
    once and the matrix sums to the parties of either date. Consecutive dates are the dates the
    pipeline ran on; to compare any two dates, take the periods of history.hist_segment_membership
    that cover each (valid_from <= date < valid_to) and join them on party_id and segment_type.

    From the periods of history.hist_segment_membership, not from a snapshot per date, and
    without a window over the history: the moves of a pair are the periods that ended on its
    later date (from) matched with those that began on it (to); the parties that stayed in a
    segment are those held in it on the earlier date (periods begun minus periods ended up to
    that date) less those who moved out.

    Incremental: a pair is final once a later run date exists, so a daily run builds only the
    pairs not built yet and the latest pair (its to_date is today's as-of date, which a re-run
    replaces), not every pair of the history again. A run date inserted between two built dates
    (only when the as-of date moves back, e.g. after an erasure, which runs a full refresh) needs
    --full-refresh.
-#}
{{ config(materialized='incremental', incremental_strategy='delete+insert', unique_key=['from_date', 'to_date'],
          on_schema_change='fail') }}
with

periods as (
    select party_id, segment_type, segment, valid_from, valid_to
    from {{ ref('hist_segment_membership') }}
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

ended as (
    select p.from_date, p.to_date, e.party_id, e.segment_type, e.segment
    from pairs_to_build as p
    join periods as e on e.valid_to = p.to_date
),

began as (
    select p.from_date, p.to_date, b.party_id, b.segment_type, b.segment
    from pairs_to_build as p
    join periods as b on b.valid_from = p.to_date
),

moves as (
    select
        coalesce(e.segment_type, b.segment_type) as segment_type,
        coalesce(e.from_date, b.from_date) as from_date,
        coalesce(e.to_date, b.to_date) as to_date,
        coalesce(e.segment, '(absent)') as from_segment,
        coalesce(b.segment, '(absent)') as to_segment,
        count(*) as parties
    from ended as e
    full outer join began as b
        on b.to_date = e.to_date and b.party_id = e.party_id and b.segment_type = e.segment_type
    group by coalesce(e.segment_type, b.segment_type), coalesce(e.from_date, b.from_date),
        coalesce(e.to_date, b.to_date), coalesce(e.segment, '(absent)'), coalesce(b.segment, '(absent)')
),

{#- +1 on the date a period began, -1 on the date it ended: summed up to a date, the parties held -#}
segment_entries_and_exits as (
    select as_of_date, segment_type, segment, sum(delta) as net
    from (
        select valid_from as as_of_date, segment_type, segment, 1 as delta from periods
        union all
        select valid_to as as_of_date, segment_type, segment, -1 as delta from periods where valid_to is not null
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
