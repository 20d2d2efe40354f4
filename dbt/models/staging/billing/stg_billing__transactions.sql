{#- billing.transactions: the accepted rows (rules in stg_billing__transactions_checked). -#}
{{ accepted_rows(ref('stg_billing__transactions_checked')) }}
