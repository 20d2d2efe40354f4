{#- credit.limit_changes: the accepted rows (rules in stg_credit__limit_changes_checked). -#}
{{ accepted_rows(ref('stg_credit__limit_changes_checked')) }}
