{#- branch.teller_transactions: the accepted rows (rules in stg_branch__teller_transactions_checked). -#}
{{ accepted_rows(ref('stg_branch__teller_transactions_checked')) }}
