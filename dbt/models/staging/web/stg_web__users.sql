{#- web.users: the accepted rows (rules in stg_web__users_checked). -#}
{{ accepted_rows(ref('stg_web__users_checked')) }}
