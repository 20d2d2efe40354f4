"""Audiences: lists of parties a marketing or sales team can act on, each with the channel to use.

Every audience is a rule over the analytics tables (segments, CLV, key accounts) and the marts,
then one channel policy:

- ``consented`` (win_back, birthday_this_week, cross_sell): a member is reached only on a channel
  the party consented to (``integration.int_party_consent``; no decision = no consent) and for
  which we hold a contact value. The customer's preferred channel is used when it qualifies
  (mapped to the outbound channel it stands for, ``PREFERRED_TO_OUTBOUND``); otherwise the first
  qualifying channel of ``FALLBACK_ORDER``; otherwise the party is left out and counted
  (``no_consent``: no consented channel at all; ``no_contact_value``: consented, but we hold no
  address or number for any consented channel).
- ``account_manager`` (key_account_review): an internal work list for the organisation's account
  manager (channel ``field_sales``), not a marketing message to the party, so marketing consent
  does not gate it; an organisation without an account manager is left out (``no_account_manager``).

The as-of date is the latest transaction date in the warehouse (``marts.fct_transactions``), as
for ``dim_customer``'s activity window: an old extract still reads sensibly, and the same warehouse
gives the same audience whatever day it runs (exports are byte-identical on a re-run). An empty
warehouse falls back to today.

Columns are what activation needs and nothing more (``BASE_COLUMNS`` + the audience's reason
columns): party_id, name, channel, the chosen channel's contact value, why that channel, and why
the party is in the audience. No date of birth (the birthday list carries only this year's
birthday date), no other contact details.
"""

from dataclasses import dataclass, field
from datetime import date

import duckdb
import pyarrow as pa

# A preferred channel (seed channels' channel_code) → the outbound marketing channel it stands for.
# Someone who prefers the mobile app reads texts; the web, email; the call centre, phone calls; the
# branch, letters. partner and back_office stand for no outbound channel: the fallback order decides.
PREFERRED_TO_OUTBOUND = {
    "email": "email", "web": "email",
    "sms": "sms", "mobile": "sms",
    "phone": "phone", "call_centre": "phone", "field_sales": "phone",
    "post": "post", "branch": "post",
}

# Cheapest first (seed contact_cost_rates: email 2, sms 8, post 400, a call 1,200 per contact).
FALLBACK_ORDER = ("email", "sms", "post", "phone")

# The contact value each outbound channel needs, from marts.dim_customer (alias d).
CONTACT_VALUE_SQL = {
    "email": "d.email",
    "sms": "d.phone",
    "phone": "d.phone",
    "post": "case when d.address_line is not null then concat_ws(', ', d.address_line, d.city, d.postcode) end",
}

BASE_COLUMNS = ("party_id", "name", "channel", "contact_value", "channel_basis")

CONSENTED = "consented"
ACCOUNT_MANAGER = "account_manager"
# Why a selected party is left out, per channel policy (every reason is reported, zero included).
EXCLUSION_REASONS = {CONSENTED: ("no_consent", "no_contact_value"), ACCOUNT_MANAGER: ("no_account_manager",)}


@dataclass(frozen=True)
class AudienceDefinition:
    name: str
    description: str
    rule: str
    channel_policy: str
    reason_columns: tuple[str, ...]
    parameters: dict = field(default_factory=dict)

    @property
    def columns(self) -> tuple[str, ...]:
        return BASE_COLUMNS + self.reason_columns

    def as_manifest(self) -> dict:
        return {"name": self.name, "description": self.description, "rule": self.rule,
                "channel_policy": self.channel_policy, "parameters": self.parameters}


AUDIENCES = (
    AudienceDefinition(
        name="win_back",
        description="Valuable customers drifting away: worth a personal offer before they are gone.",
        rule="latest customer_clv.value_tier in value_tiers and latest customer_segments.lifecycle_stage in "
             "lifecycle_stages",
        channel_policy=CONSENTED,
        reason_columns=("value_tier", "lifecycle_stage", "rfm_segment", "clv"),
        parameters={"value_tiers": ["platinum", "gold"], "lifecycle_stages": ["at_risk", "lapsed", "attrited"]},
    ),
    AudienceDefinition(
        name="birthday_this_week",
        description="Current customers (active or inactive individuals) to greet on their birthday.",
        rule="birthday falls within window_days days from the as-of date (that day included); someone born on "
             "29 February celebrates on 28 February in a year that is not a leap year",
        channel_policy=CONSENTED,
        reason_columns=("birthday_on",),
        parameters={"window_days": 7, "customer_statuses": ["active", "inactive"]},
    ),
    AudienceDefinition(
        name="cross_sell",
        description="Customers with a next best product from their product-affinity group, with that product.",
        rule="latest customer_segments.next_best_product is not null",
        channel_policy=CONSENTED,
        reason_columns=("next_best_product", "product_name", "product_affinity_group"),
    ),
    AudienceDefinition(
        name="key_account_review",
        description="Key accounts behind their sales plan, for their account manager to review.",
        rule="key_accounts.is_key_account and attainment < attainment_below, latest plan_year per organisation",
        channel_policy=ACCOUNT_MANAGER,
        reason_columns=("plan_year", "target_value", "actual_value", "attainment", "account_manager_id"),
        parameters={"attainment_below": 0.9},
    ),
)
AUDIENCES_BY_NAME = {a.name: a for a in AUDIENCES}


@dataclass(frozen=True)
class AudienceResult:
    definition: AudienceDefinition
    as_of: date
    members: pa.Table           # ordered by party_id, columns = definition.columns
    candidates: int             # parties the rule selected, before the channel policy
    excluded: dict[str, int]    # reason → parties left out


def as_of_date(con: duckdb.DuckDBPyConnection) -> date:
    """The latest transaction date in the warehouse, or today when there is none."""
    latest = con.execute("select max(occurred_on) from marts.fct_transactions").fetchall()[0][0]
    return latest or date.today()


def _latest(table: str) -> str:
    """Rows of the latest as_of_date only: segment and CLV tables may keep every run's rows."""
    return f"(select * from {table} where as_of_date = (select max(as_of_date) from {table}))"


def _in_list(values) -> str:
    return ", ".join("'" + str(v).replace("'", "''") + "'" for v in values)


def _candidates_sql(definition: AudienceDefinition, as_of: date) -> str:
    """party_id, preferred_channel and the reason columns of every party the rule selects."""
    p = definition.parameters
    segments, clv = _latest("analytics.customer_segments"), _latest("analytics.customer_clv")
    if definition.name == "win_back":
        return f"""
            select s.party_id, s.preferred_channel, v.value_tier, s.lifecycle_stage, s.rfm_segment,
                cast(v.clv as decimal(18, 2)) as clv
            from {segments} as s join {clv} as v on v.party_id = s.party_id
            where v.value_tier in ({_in_list(p['value_tiers'])})
              and s.lifecycle_stage in ({_in_list(p['lifecycle_stages'])})"""
    if definition.name == "birthday_this_week":
        leap = "(y.yr % 4 = 0 and (y.yr % 100 <> 0 or y.yr % 400 = 0))"
        return f"""
            with customers as (
                select party_id, date_of_birth from marts.dim_customer
                where party_type = 'individual' and date_of_birth is not null
                  and customer_status in ({_in_list(p['customer_statuses'])})
            ),
            birthdays as (
                select c.party_id,
                    case when month(c.date_of_birth) = 2 and day(c.date_of_birth) = 29 and not {leap}
                         then make_date(y.yr, 2, 28)
                         else make_date(y.yr, month(c.date_of_birth), day(c.date_of_birth)) end as birthday_on
                from customers as c
                cross join (values ({as_of.year}), ({as_of.year + 1})) as y(yr)
            ),
            this_week as (
                select party_id, min(birthday_on) as birthday_on from birthdays
                where birthday_on between date '{as_of.isoformat()}'
                                      and date '{as_of.isoformat()}' + {int(p['window_days']) - 1}
                group by party_id
            )
            select w.party_id, s.preferred_channel, w.birthday_on
            from this_week as w left join {segments} as s on s.party_id = w.party_id"""
    if definition.name == "cross_sell":
        return f"""
            select s.party_id, s.preferred_channel, s.next_best_product, pr.product_name,
                s.product_affinity_group
            from {segments} as s left join reference.products as pr on pr.product_code = s.next_best_product
            where s.next_best_product is not null"""
    if definition.name == "key_account_review":
        return f"""
            with plans as (
                select *, row_number() over (partition by party_id order by plan_year desc) as plan_order
                from analytics.key_accounts where is_key_account
            )
            select k.party_id, k.name, k.plan_year,
                cast(k.target_value as decimal(18, 2)) as target_value,
                cast(k.actual_value as decimal(18, 2)) as actual_value,
                cast(round(k.attainment, 4) as decimal(9, 4)) as attainment,
                o.account_manager_id, o.account_manager_name
            from plans as k
            left join marts.dim_organisation as o on o.organisation_party_id = k.party_id
            where k.plan_order = 1 and k.attainment < {float(p['attainment_below'])}"""
    raise ValueError(f"no rule for audience {definition.name!r}")


def _consented_sql(definition: AudienceDefinition, as_of: date) -> str:
    """Candidates with their chosen channel, or the reason they cannot be reached."""
    usable = {ch: f"(coalesce(k.consent_{ch}, false) and nullif(trim({CONTACT_VALUE_SQL[ch]}), '') is not null)"
              for ch in FALLBACK_ORDER}
    preferred = "case c.preferred_channel " + " ".join(
        f"when '{pref}' then '{out}'" for pref, out in PREFERRED_TO_OUTBOUND.items()) + " end"
    pick_preferred = " ".join(f"when p.preferred_outbound = '{ch}' and p.usable_{ch} then '{ch}'" for ch in FALLBACK_ORDER)
    pick_fallback = " ".join(f"when p.usable_{ch} then '{ch}'" for ch in FALLBACK_ORDER)
    any_consent = " or ".join(f"coalesce(k.consent_{ch}, false)" for ch in FALLBACK_ORDER)
    reasons = ", ".join(f"p.{col}" for col in definition.reason_columns)
    return f"""
        with candidates as ({_candidates_sql(definition, as_of)}),
        reachable as (
            select c.*,
                coalesce(d.full_name, nullif(trim(concat_ws(' ', d.first_name, d.last_name)), '')) as name,
                {preferred} as preferred_outbound,
                {", ".join(f"{usable[ch]} as usable_{ch}" for ch in FALLBACK_ORDER)},
                {", ".join(f"nullif(trim({CONTACT_VALUE_SQL[ch]}), '') as value_{ch}" for ch in FALLBACK_ORDER)},
                ({any_consent}) as has_consent
            from candidates as c
            left join marts.dim_customer as d on d.party_id = c.party_id
            left join integration.int_party_consent as k on k.party_id = c.party_id
        ),
        chosen as (
            select p.*,
                case {pick_preferred} end as preferred_pick,
                case {pick_fallback} end as fallback_pick
            from reachable as p
        )
        select p.party_id, p.name, coalesce(p.preferred_pick, p.fallback_pick) as channel,
            case coalesce(p.preferred_pick, p.fallback_pick)
                {" ".join(f"when '{ch}' then p.value_{ch}" for ch in FALLBACK_ORDER)} end as contact_value,
            case when p.preferred_pick is not null then 'preferred'
                 when p.fallback_pick is not null then 'fallback' end as channel_basis,
            {reasons},
            case when coalesce(p.preferred_pick, p.fallback_pick) is not null then null
                 when not p.has_consent then 'no_consent'
                 else 'no_contact_value' end as excluded_reason
        from chosen as p"""


def _account_manager_sql(definition: AudienceDefinition, as_of: date) -> str:
    reasons = ", ".join(f"c.{col}" for col in definition.reason_columns)
    return f"""
        with candidates as ({_candidates_sql(definition, as_of)})
        select c.party_id, c.name,
            case when c.account_manager_name is not null then 'field_sales' end as channel,
            c.account_manager_name as contact_value,
            case when c.account_manager_name is not null then 'account_manager' end as channel_basis,
            {reasons},
            case when c.account_manager_name is null then 'no_account_manager' end as excluded_reason
        from candidates as c"""


def audience_sql(definition: AudienceDefinition, as_of: date) -> str:
    """Every candidate with its channel and contact value, or an excluded_reason."""
    if definition.channel_policy == CONSENTED:
        return _consented_sql(definition, as_of)
    if definition.channel_policy == ACCOUNT_MANAGER:
        return _account_manager_sql(definition, as_of)
    raise ValueError(f"unknown channel policy {definition.channel_policy!r}")


def build_audience(con: duckdb.DuckDBPyConnection, definition: AudienceDefinition,
                   as_of: date | None = None) -> AudienceResult:
    """Write ``analytics.audience_<name>`` (members only, ordered by party_id) and return it."""
    as_of = as_of or as_of_date(con)
    table = f"analytics.audience_{definition.name}"
    con.execute("create schema if not exists analytics")
    con.execute(f"create or replace temp table audience_candidates as {audience_sql(definition, as_of)}")
    columns = ", ".join(definition.columns)
    con.execute(f"create or replace table {table} as select {columns} from audience_candidates "
                "where excluded_reason is null order by party_id")
    excluded = dict.fromkeys(EXCLUSION_REASONS[definition.channel_policy], 0)
    excluded |= dict(con.execute("select excluded_reason, count(*) from audience_candidates "
                                "where excluded_reason is not null group by 1 order by 1").fetchall())
    candidates = con.execute("select count(*) from audience_candidates").fetchall()[0][0]
    con.execute("drop table audience_candidates")
    members = con.sql(f"select * from {table} order by party_id").to_arrow_table()
    return AudienceResult(definition=definition, as_of=as_of, members=members, candidates=candidates,
                          excluded=excluded)
