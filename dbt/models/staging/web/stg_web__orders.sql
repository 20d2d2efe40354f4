{#- web.orders: the accepted rows (rules in stg_web__orders_checked). -#}
{{ accepted_rows(ref('stg_web__orders_checked')) }}
