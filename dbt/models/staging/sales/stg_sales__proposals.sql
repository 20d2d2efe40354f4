{#- sales.proposals: the accepted rows (rules in stg_sales__proposals_checked). -#}
{{ accepted_rows(ref('stg_sales__proposals_checked')) }}
