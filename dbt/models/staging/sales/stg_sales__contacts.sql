{#- sales.contacts: the accepted rows (rules in stg_sales__contacts_checked). -#}
{{ accepted_rows(ref('stg_sales__contacts_checked')) }}
