"""analytics.key_accounts: organisations that are key accounts by objective criteria, and how
they stand against this year's account plan.

Measures per organisation (marts.dim_organisation), as of the segments' date:
``attributed_revenue_12m`` (revenue of its own holdings and of those it sponsors, an employer
scheme's staff accounts, in the last 365 days), ``won_value_12m`` (opportunities won in the
last 365 days), ``open_pipeline_value`` (opportunities open or at proposal now) and
``reported_employee_count``. An organisation meeting any threshold of seed
``key_account_criteria`` is a key account; ``criteria_met`` says which.

Plan: the sales account plan of the as-of year (``target_value``); ``actual_value`` is what
the relationship brought in that year to date: opportunities won plus attributed revenue,
``attainment`` their ratio to the target. A sales plan that exists does not by itself make a
key account: the criteria do, so a plan without the numbers to back it shows up.
"""

from datetime import date

import duckdb

CRITERIA_SEED = "reference.key_account_criteria"
MEASURES = ("attributed_revenue_12m", "won_value_12m", "open_pipeline_value", "reported_employee_count")


def load_criteria(con: duckdb.DuckDBPyConnection) -> dict[str, float]:
    criteria = {name: float(value) for name, value in con.execute(f"select criterion, threshold from {CRITERIA_SEED}").fetchall()}
    unknown = set(criteria) - set(MEASURES)
    if unknown:
        raise ValueError(f"{CRITERIA_SEED} names unknown measures {sorted(unknown)}")
    return criteria


def build_key_accounts(con: duckdb.DuckDBPyConnection, as_of: date) -> dict[str, float]:
    """Replace analytics.key_accounts; returns the criteria used."""
    criteria = load_criteria(con)
    met = [f"case when {name} >= {threshold} then '{name}' end" for name, threshold in criteria.items()]
    criteria_met = f"concat_ws(', ', {', '.join(met)})" if met else "''"
    con.execute("create schema if not exists analytics")
    con.execute(f"""
        create or replace table analytics.key_accounts as
        with orgs as (
            select organisation_party_id as party_id, org_id, org_name, reported_employee_count
            from marts.dim_organisation
        ),
        attributed as (
            select coalesce(h.sponsor_party_id, t.party_id) as party_id, t.occurred_on, t.amount
            from marts.fct_transactions as t
            left join integration.int_holdings_current as h on h.holding_id = t.holding_id
            where t.counts_as_revenue and t.occurred_on <= $as_of
        ),
        revenue as (
            select party_id,
                sum(case when occurred_on > $as_of - 365 then amount end) as attributed_revenue_12m,
                sum(case when extract(year from occurred_on) = extract(year from $as_of) then amount end) as revenue_plan_year
            from attributed where party_id in (select party_id from orgs)
            group by party_id
        ),
        opportunities as (
            select ids.party_id, o.stage, o.amount, cast(o.closed_at as date) as closed_on
            from (select *, row_number() over (partition by opportunity_id order by updated_at desc) as version
                  from staging.stg_sales__opportunities where org_id is not null) as o
            join integration.party_identifiers as ids on ids.id_type = 'org_id' and ids.id_value = o.org_id
            where o.version = 1 and cast(o.opened_at as date) <= $as_of
        ),
        sales as (
            select party_id,
                sum(case when stage = 'won' and closed_on > $as_of - 365 and closed_on <= $as_of then amount end) as won_value_12m,
                sum(case when stage = 'won' and closed_on <= $as_of
                          and extract(year from closed_on) = extract(year from $as_of) then amount end) as won_plan_year,
                sum(case when stage in ('open', 'proposal') then amount end) as open_pipeline_value
            from opportunities group by party_id
        ),
        plans as (
            select ids.party_id, p.plan_year, sum(p.target_value) as target_value
            from staging.stg_sales__account_plans as p
            join integration.party_identifiers as ids on ids.id_type = 'org_id' and ids.id_value = p.org_id
            where p.plan_year = extract(year from $as_of)
            group by ids.party_id, p.plan_year
        ),
        measures as (
            select o.party_id, o.org_id, o.org_name, o.reported_employee_count,
                cast(coalesce(r.attributed_revenue_12m, 0) as decimal(18, 2)) as attributed_revenue_12m,
                cast(coalesce(s.won_value_12m, 0) as decimal(18, 2)) as won_value_12m,
                cast(coalesce(s.open_pipeline_value, 0) as decimal(18, 2)) as open_pipeline_value,
                cast(coalesce(s.won_plan_year, 0) as decimal(18, 2)) as actual_won_value,
                cast(coalesce(r.revenue_plan_year, 0) as decimal(18, 2)) as actual_revenue,
                p.plan_year, cast(p.target_value as decimal(18, 2)) as target_value
            from orgs as o
            left join revenue as r on r.party_id = o.party_id
            left join sales as s on s.party_id = o.party_id
            left join plans as p on p.party_id = o.party_id
        )
        select party_id, org_id, org_name as name,
            nullif({criteria_met}, '') is not null as is_key_account,
            nullif({criteria_met}, '') as criteria_met,
            attributed_revenue_12m, won_value_12m, open_pipeline_value, reported_employee_count,
            plan_year, target_value,
            actual_won_value, actual_revenue,
            actual_won_value + actual_revenue as actual_value,
            case when target_value > 0 then cast(round((actual_won_value + actual_revenue) / target_value, 4) as double) end
                as attainment,
            cast($as_of as date) as as_of_date
        from measures
        order by party_id
    """, {"as_of": as_of})
    return criteria
