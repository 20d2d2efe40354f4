{#- sales.organisations: the accepted rows (rules in stg_sales__organisations_checked). -#}
{{ accepted_rows(ref('stg_sales__organisations_checked')) }}
