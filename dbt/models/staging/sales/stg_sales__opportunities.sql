{#- sales.opportunities: the accepted rows (rules in stg_sales__opportunities_checked). -#}
{{ accepted_rows(ref('stg_sales__opportunities_checked')) }}
