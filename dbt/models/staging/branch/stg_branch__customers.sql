{#- branch.customers: the accepted rows (rules in stg_branch__customers_checked). -#}
{{ accepted_rows(ref('stg_branch__customers_checked')) }}
