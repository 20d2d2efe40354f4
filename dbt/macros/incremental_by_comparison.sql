{#-
    Incremental by comparison (dim_customer, customer_360): for a model whose rows can change on
    any run for reasons no watermark sees (the activity window moves with the newest transaction,
    a count over a fact moves with every new row), but of which a day changes a few percent.

    The model still computes every row; an incremental run then keeps only the rows that are new
    or differ in any column from the table as it is (`is distinct from`, so NULLs compare equal),
    stamps them with the run's `refreshed_at` (macro row_refreshed_at) and replaces them by key
    (delete+insert). Keys the model no longer gives (a party merged away) are deleted by a
    post-hook of the model. The table then equals a full build but for `refreshed_at`,
    which says when each row last changed: the serving copies patch those rows by key
    (serving/keyed_patch.py) instead of hashing and masking every row, and the rows a run did not
    change are not written again. A change of the model's rules needs no full refresh: the
    comparison sees every changed value. A change of its columns does (on_schema_change='fail').
-#}
{#- The model's final select: the rows of CTE `rows` to write (all of them on a full build), with the
    run's refreshed_at. -#}
{% macro changed_rows_with_refreshed_at(rows, key) -%}
{%- if is_incremental() -%}
{%- set compared = [] -%}
{%- for column in adapter.get_columns_in_relation(this) -%}
    {%- if column.name | lower not in [key | lower, 'refreshed_at'] -%}
        {%- do compared.append(column.name) -%}
    {%- endif -%}
{%- endfor -%}
select rows_now.*, {{ row_refreshed_at() }} as refreshed_at
from {{ rows }} as rows_now
left join {{ this }} as kept on kept.{{ key }} = rows_now.{{ key }}
where kept.{{ key }} is null
{%- for column in compared %}
    or rows_now.{{ column }} is distinct from kept.{{ column }}
{%- endfor %}
{%- else -%}
select {{ rows }}.*, {{ row_refreshed_at() }} as refreshed_at
from {{ rows }}
{%- endif -%}
{%- endmacro %}
