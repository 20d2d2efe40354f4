{#- web.sessions: the accepted rows (rules in stg_web__sessions_checked). -#}
{{ accepted_rows(ref('stg_web__sessions_checked')) }}
