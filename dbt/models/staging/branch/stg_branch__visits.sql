{#- branch.visits: the accepted rows (rules in stg_branch__visits_checked). -#}
{{ accepted_rows(ref('stg_branch__visits_checked')) }}
