{#- sales.schemes: the accepted rows (rules in stg_sales__schemes_checked). -#}
{{ accepted_rows(ref('stg_sales__schemes_checked')) }}
