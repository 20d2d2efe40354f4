{#-
    Each party's revenue in figures: how much (billing rows only, as customer_360 counts it), in
    how many transactions, and the last one. Read by dim_customer (the activity window of
    customer_status) and customer_360, which grouped the ~13 M revenue transactions of a million
    people each on every run.

    Kept the way int_party_touchpoints keeps the interactions' figures: incremental by party, the
    day's rows merged or the party recounted (macros/incremental_party_figures.sql).
-#}
{{ incremental_party_figures(ref('fct_transactions'), 'revenue_transactions', [
    ['revenue_to_date', 'cast(sum(amount) as decimal(18, 2))', 'sum', 'decimal(18, 2)'],
    ['last_transaction_at', 'max(occurred_at)', 'max', dbt.type_timestamp()],
], condition='counts_as_revenue') }}
