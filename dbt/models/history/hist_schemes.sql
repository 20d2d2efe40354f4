{#-
    Membership schemes as SCD type 2 from full extracts (sales.schemes delivers the whole list
    each time): a scheme missing from a delivery is end-dated at that delivery's business date
    and flagged is_deleted, not kept current. Business time is the delivery's business date
    (the date in the file name, from the file ledger).

    Every delivery's rows are read from the checked staging model: staging keeps only the
    first delivery of a key (DUPLICATE_KEY quarantines the re-delivered rows of a full
    extract), but each full extract is a whole snapshot, so a row whose only fault is being
    delivered again counts here.
-#}
with

delivered as (
    select
        {{ dbt.concat(['_batch_id', "'|'", '_source_file']) }} as delivery_id,
        scheme_code, scheme_name, association_name, discount_rate, started_at, _row_number
    from {{ ref('stg_sales__schemes_checked') }}
    where _quarantine_reasons is null or _quarantine_reasons = 'DUPLICATE_KEY'
)

select *
from {{ full_extract_history(
    'delivered', 'scheme_code', ['scheme_name', 'association_name', 'discount_rate', 'started_at'],
    file_deliveries('sales', 'schemes'),
) }} as history
