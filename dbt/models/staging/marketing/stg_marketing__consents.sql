{#- marketing.consents: the accepted rows (rules in stg_marketing__consents_checked). -#}
{{ accepted_rows(ref('stg_marketing__consents_checked')) }}
