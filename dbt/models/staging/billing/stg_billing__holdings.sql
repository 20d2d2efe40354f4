{#- billing.holdings: the accepted rows (rules in stg_billing__holdings_checked). -#}
{{ accepted_rows(ref('stg_billing__holdings_checked')) }}
