{#- marketing.campaigns: the accepted rows (rules in stg_marketing__campaigns_checked). -#}
{{ accepted_rows(ref('stg_marketing__campaigns_checked')) }}
