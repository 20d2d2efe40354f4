{#-
    Every relationship between two parties, one row per (from party, type, to party).

    household_member     individual -> household        golden address (int_household_members)
    employee_of          individual -> organisation     a sales contact's org_id; the sponsor_org_id
                                                        of an employer-sponsored holding
    member_of            individual -> membership group the scheme_code on a lead or a holding
    pays_bills_for       payer party -> account holder  a holding's payer_account_number
    referred_by          lead's party -> referrer       a lead's referred_by_account_number
    account_manager_of   staff -> organisation          an organisation's account_manager_id

    Account numbers and org ids resolve to parties through integration.party_identifiers;
    evidence that does not resolve, or that would relate a party to itself, is dropped.
    Each piece of evidence has a validity (valid_from, and valid_to once it ended: a holding
    that closed, a contact who moved to another organisation, an organisation that changed
    account manager). A relationship is current while any of its evidence is; it keeps the
    source of its earliest evidence and counts the rest.
-#}
with

xref as (
    select * from {{ source('integration', 'party_xref') }}
),

identifiers as (
    select * from {{ source('integration', 'party_identifiers') }}
),

holdings as (
    select holdings.*,
        case when is_active then null else cast(coalesce(end_date, updated_at) as timestamp) end as ended_at
    from {{ ref('int_holdings_current') }} as holdings
),

leads as (
    select l.*, x.party_id
    from {{ ref('stg_marketing__leads') }} as l
    join xref as x on x.source_system = 'marketing' and x.source_entity = 'leads' and x.source_key = l.lead_id
),

-- a versioned attribute (a contact's organisation, an organisation's account manager) as periods
contact_org_periods as (
    select * from {{ value_periods(ref('stg_sales__contacts'), 'contact_id', 'org_id') }} as periods
),

org_manager_periods as (
    select * from {{ value_periods(ref('stg_sales__organisations'), 'org_id', 'account_manager_id') }} as periods
),

evidence as (
    select hm.party_id as from_party_id, 'household_member' as relationship_type, hm.household_id as to_party_id,
        coalesce(hm.address_line_source, 'integration') as source_system, 'golden_address' as source_entity,
        hm.address_key as source_key,
        cast(null as timestamp) as valid_from, cast(null as timestamp) as valid_to
    from {{ ref('int_household_members') }} as hm

    union all
    select x.party_id, 'employee_of', org.party_id, 'sales', 'contacts', p.contact_id,
        p.valid_from, p.valid_to
    from contact_org_periods as p
    join xref as x on x.source_system = 'sales' and x.source_entity = 'contacts' and x.source_key = p.contact_id
    join identifiers as org on org.id_type = 'org_id' and org.id_value = p.org_id

    union all
    select party_id, 'employee_of', sponsor_party_id, 'billing', 'holdings', holding_id,
        cast(start_date as timestamp), ended_at
    from holdings
    where sponsor_party_id is not null

    union all
    select l.party_id, 'member_of', g.group_party_id, 'marketing', 'leads', l.lead_id,
        l.captured_at, cast(null as timestamp)
    from leads as l
    join {{ ref('int_membership_groups') }} as g on g.scheme_code = l.scheme_code

    union all
    select h.party_id, 'member_of', g.group_party_id, 'billing', 'holdings', h.holding_id,
        cast(h.start_date as timestamp), h.ended_at
    from holdings as h
    join {{ ref('int_membership_groups') }} as g on g.scheme_code = h.scheme_code

    union all
    select payer_party_id, 'pays_bills_for', party_id, 'billing', 'holdings', holding_id,
        cast(start_date as timestamp), ended_at
    from holdings
    where payer_party_id is not null

    union all
    select l.party_id, 'referred_by', referrer.party_id, 'marketing', 'leads', l.lead_id,
        l.captured_at, cast(null as timestamp)
    from leads as l
    join identifiers as referrer
        on referrer.id_type = 'account_number' and referrer.id_value = l.referred_by_account_number

    union all
    select s.staff_party_id, 'account_manager_of', org.party_id, 'sales', 'organisations', p.org_id,
        p.valid_from, p.valid_to
    from org_manager_periods as p
    join {{ ref('int_account_managers') }} as s on s.account_manager_id = p.account_manager_id
    join identifiers as org on org.id_type = 'org_id' and org.id_value = p.org_id
),

ranked as (
    select evidence.*,
        row_number() over (
            partition by from_party_id, relationship_type, to_party_id
            order by case when valid_from is null then 1 else 0 end, valid_from, source_system, source_entity, source_key
        ) as evidence_order
    from evidence
    where from_party_id is not null and to_party_id is not null and from_party_id <> to_party_id
),

relationships as (
    select
        from_party_id, relationship_type, to_party_id,
        min(valid_from) as valid_from,
        case when count(*) > count(valid_to) then null else max(valid_to) end as valid_to,
        count(*) as evidence_count
    from ranked
    group by from_party_id, relationship_type, to_party_id
)

select
    r.from_party_id,
    r.relationship_type,
    r.to_party_id,
    e.source_system,
    e.source_entity,
    e.source_key,
    r.valid_from,
    r.valid_to,
    r.valid_to is null as is_current,
    r.evidence_count
from relationships as r
join ranked as e
    on e.from_party_id = r.from_party_id
    and e.relationship_type = r.relationship_type
    and e.to_party_id = r.to_party_id
    and e.evidence_order = 1
