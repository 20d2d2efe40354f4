{#- sales.account_plans: the accepted rows (rules in stg_sales__account_plans_checked). -#}
{{ accepted_rows(ref('stg_sales__account_plans_checked')) }}
