{#- email.events: the accepted rows (rules in stg_email__events_checked). -#}
{{ accepted_rows(ref('stg_email__events_checked')) }}
