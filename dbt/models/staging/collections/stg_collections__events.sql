{#- collections.events: the accepted rows (rules in stg_collections__events_checked). -#}
{{ accepted_rows(ref('stg_collections__events_checked')) }}
