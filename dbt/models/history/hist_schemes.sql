{#-
    Membership schemes as SCD type 2 from full extracts (sales.schemes delivers the whole list
    each time): a scheme missing from a delivery is end-dated at that delivery's business date
    and flagged is_deleted, not kept current. Business time is the delivery's business date
    (the date in the file name, from the file ledger).

    Every delivery's accepted rows: staging stages the entity as a full extract, so a key is a
    duplicate only when repeated within one file. A row quarantined for a real fault is absent
    from its snapshot (its key is end-dated until it arrives valid again).
-#}
with

delivered as (
    select
        {{ dbt.concat(['_batch_id', "'|'", '_source_file']) }} as delivery_id,
        scheme_code, scheme_name, association_name, discount_rate, started_at, _row_number
    from {{ ref('stg_sales__schemes') }}
)

select *
from {{ full_extract_history(
    'delivered', 'scheme_code', ['scheme_name', 'association_name', 'discount_rate', 'started_at'],
    file_deliveries('sales', 'schemes'),
) }} as history
