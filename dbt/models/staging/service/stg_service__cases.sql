{#- service.cases: the accepted rows (rules in stg_service__cases_checked). -#}
{{ accepted_rows(ref('stg_service__cases_checked')) }}
