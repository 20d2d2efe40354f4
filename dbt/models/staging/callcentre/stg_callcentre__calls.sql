{#- callcentre.calls: the accepted rows (rules in stg_callcentre__calls_checked). -#}
{{ accepted_rows(ref('stg_callcentre__calls_checked')) }}
