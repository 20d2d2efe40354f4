{#- marketing.leads: the accepted rows (rules in stg_marketing__leads_checked). -#}
{{ accepted_rows(ref('stg_marketing__leads_checked')) }}
