{#- mobile.users: the accepted rows (rules in stg_mobile__users_checked). -#}
{{ accepted_rows(ref('stg_mobile__users_checked')) }}
