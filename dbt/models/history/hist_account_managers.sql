{#-
    Account-manager assignment as SCD type 2: one row per organisation and period in which one
    account manager was assigned, from every version of sales.organisations (business time:
    the version's updated_at). A version without a manager ends the assignment and opens no
    row (no manager, no row), so an organisation has at most one current row. Other changes to
    the organisation (name, employees) do not split a period. The organisation and the manager
    are parties (int_party_relationships' account_manager_of has the same current pairs).
-#}
with

periods as (
    select * from {{ scd2_periods(
        ref('stg_sales__organisations'), 'org_id', 'updated_at', ['account_manager_id'],
        carried_columns=['account_manager_name'],
    ) }} as p
)

select
    p.org_id,
    orgs.party_id as organisation_party_id,
    p.account_manager_id,
    managers.staff_party_id,
    p.account_manager_name,
    p.valid_from,
    p.valid_to,
    p.is_current,
    p.last_stated_at,
    p.version_count,
    p.loaded_at
from periods as p
left join {{ source('integration', 'party_identifiers') }} as orgs
    on orgs.id_type = 'org_id' and orgs.id_value = p.org_id
left join {{ ref('int_account_managers') }} as managers
    on managers.account_manager_id = p.account_manager_id
where p.account_manager_id is not null
