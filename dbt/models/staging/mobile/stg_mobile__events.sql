{#- mobile.events: the accepted rows (rules in stg_mobile__events_checked). -#}
{{ accepted_rows(ref('stg_mobile__events_checked')) }}
