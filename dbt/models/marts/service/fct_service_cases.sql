{#-
    One row per service case in its latest state, with how long it took and how it ended.

    Incremental (macros/incremental_facts.sql): a daily run re-derives only the cases with a
    version loaded since the last run (a new current version is such a row) and those whose
    customer reference changed party, by case_id.
-#}
{{ config(
    materialized='incremental',
    incremental_strategy='delete+insert',
    unique_key='case_id',
    on_schema_change='append_new_columns',
    pre_hook="{{ stage_fact_identifiers(source('integration', 'party_identifiers')) }}",
    post_hook="{{ save_fact_identifiers(source('integration', 'party_identifiers')) }}",
) }}
{%- set watermark = fact_watermark() %}
with

versions as (
    select * from {{ latest_versions(ref('stg_service__cases'), 'case_id') }} as current_versions
),

{{ fact_refresh_ctes('versions', 'c', 'c._loaded_at', ['c.customer_ref'], watermark) }}

select
    c.case_id,
    ids.party_id,
    c.channel,
    c.category,
    c.is_complaint,
    c.priority,
    c.opened_at,
    c.closed_at,
    case when c.closed_at is null then true else false end as is_open,
    case when c.closed_at is not null
        then cast({{ dbt.datediff("c.opened_at", "c.closed_at", "minute") }} as double) / 60 end as resolution_hours,
    coalesce(c.escalated, false) as escalated,
    c.satisfaction_score,
    c.status,
    c.customer_ref_type,
    c.updated_at as last_updated_at,
    c._loaded_at as loaded_at,
    {{ row_refreshed_at() }} as refreshed_at
from refreshed as c
left join identifiers as ids
    on ids.id_type = c.customer_ref_type and ids.id_value = c.customer_ref
