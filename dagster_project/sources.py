"""The source registry: every source system, its entities, files, formats, columns and keys.

This is the one contract between whoever delivers files and the pipeline. The sample-world
generator writes files to it, the ingest assets are generated from it, the dbt sources yml
mirrors it and `docs/sources.md` is rendered from it (``crm-cif docs``), so nothing drifts.

Files arrive under ``<landing>/<source>/`` named ``<entity>_<YYYYMMDD>[_<anything>].<ext>``:
the date is the business day the extract covers. Files are loaded as delivered, all columns
as text; typing and validation happen in dbt staging.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

EXTENSIONS = {"csv": "csv", "jsonl": "jsonl", "parquet": "parquet"}


@dataclass(frozen=True)
class Column:
    name: str
    type: str  # string | integer | decimal | date | timestamp | boolean
    description: str
    role: str | None = None  # how the column identifies a party: account_number, email, phone, ...

    @property
    def accepted_values(self) -> tuple[str, ...]:
        """Codes a code column may hold: a description written as ``a | b | c`` lists them.

        Keeping the list in the description means the file contract in docs/sources.md and
        the validation in staging read the same words.
        """
        head = self.description.split(" (")[0].strip()
        parts = [p.strip() for p in head.split("|")]
        if len(parts) > 1 and all(re.fullmatch(r"[a-z0-9_]+", p) for p in parts):
            return tuple(parts)
        return ()


@dataclass(frozen=True)
class Entity:
    source: str
    name: str
    description: str
    format: str  # csv | jsonl | parquet
    key: tuple[str, ...]
    columns: tuple[Column, ...]
    delimiter: str = ","
    encoding: str = "utf-8"
    date_format: str = "YYYY-MM-DD"
    timestamp_format: str = "YYYY-MM-DDTHH:MM:SS"
    cadence_days: int = 1  # expected delivery cadence; a later issue raises freshness warnings
    extract: str = "delta"  # delta: new and changed rows only | full: the whole table every time
    identifies_customer_by: str = ""

    @property
    def table(self) -> str:
        """Raw table name (schema ``raw``) and dbt source table name."""
        return f"{self.source}__{self.name}"

    @property
    def extension(self) -> str:
        return EXTENSIONS[self.format]

    @property
    def file_pattern(self) -> re.Pattern[str]:
        return re.compile(rf"^{re.escape(self.name)}_(\d{{8}})(?:_[^/]*)?\.{self.extension}$")

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    def file_name(self, day: str, suffix: str = "") -> str:
        """Canonical file name for a delivery covering ``day`` (YYYYMMDD)."""
        return f"{self.name}_{day}{suffix}.{self.extension}"


@dataclass(frozen=True)
class Source:
    name: str
    kind: str  # channel | department
    system: str
    description: str
    entities: tuple[Entity, ...] = field(default_factory=tuple)


def _c(name: str, type_: str, description: str, role: str | None = None) -> Column:
    return Column(name, type_, description, role)


_BRANCH_DATE = dict(date_format="DD/MM/YYYY", timestamp_format="DD/MM/YYYY HH:MM")
_BRANCH_CSV = dict(format="csv", delimiter=";", encoding="latin-1", **_BRANCH_DATE)

SOURCES: tuple[Source, ...] = (
    Source(
        "branch", "channel", "Core banking branch system",
        "Customer file of the branch network keyed by account number, branch visits and "
        "teller transactions. Exported by a legacy system: semicolon CSV in Latin-1, "
        "day-first dates.",
        (
            Entity(
                "branch", "customers",
                "Customer master records; a row is written when a customer is opened or "
                "any attribute changes (address move, new phone, surname change).",
                key=("account_number", "updated_at"),
                identifies_customer_by="account_number, plus name, date of birth, address, phone, email",
                columns=(
                    _c("account_number", "string", "Customer account number, e.g. AC0001234567", "account_number"),
                    _c("title", "string", "Mr, Mrs, Ms, Dr, ..."),
                    _c("first_name", "string", "Given name", "first_name"),
                    _c("last_name", "string", "Family name", "last_name"),
                    _c("date_of_birth", "date", "Date of birth (DD/MM/YYYY)", "date_of_birth"),
                    _c("address_line", "string", "Street address", "address"),
                    _c("city", "string", "City", "city"),
                    _c("postcode", "string", "Postal code", "postcode"),
                    _c("phone", "string", "Phone number in any local or international format", "phone"),
                    _c("email", "string", "Email address", "email"),
                    _c("branch_code", "string", "Home branch code (seed branches)"),
                    _c("opened_date", "date", "Date the customer relationship was opened (DD/MM/YYYY)"),
                    _c("status", "string", "active | closed"),
                    _c("close_reason", "string", "competitor | moved | deceased | other (why a closed customer left)"),
                    _c("updated_at", "timestamp", "When this version of the record was written (DD/MM/YYYY HH:MM)"),
                ),
                **_BRANCH_CSV,
            ),
            Entity(
                "branch", "visits", "Customer visits to a branch counter.",
                key=("visit_id",),
                identifies_customer_by="account_number",
                columns=(
                    _c("visit_id", "string", "Visit identifier"),
                    _c("account_number", "string", "Customer account number", "account_number"),
                    _c("branch_code", "string", "Branch visited"),
                    _c("visit_ts", "timestamp", "Arrival time (DD/MM/YYYY HH:MM)"),
                    _c("purpose", "string", "enquiry | deposit | withdrawal | account_opening | complaint | advice"),
                    _c("outcome", "string", "served | referred | left_before_served"),
                ),
                **_BRANCH_CSV,
            ),
            Entity(
                "branch", "teller_transactions", "Cash and cheque transactions at the counter.",
                key=("txn_id",),
                identifies_customer_by="account_number",
                columns=(
                    _c("txn_id", "string", "Transaction identifier"),
                    _c("account_number", "string", "Customer account number", "account_number"),
                    _c("branch_code", "string", "Branch"),
                    _c("txn_ts", "timestamp", "Transaction time (DD/MM/YYYY HH:MM)"),
                    _c("txn_type", "string", "deposit | withdrawal | cheque"),
                    _c("amount", "decimal", "Amount, positive, in currency units"),
                    _c("currency", "string", "ISO 4217 currency code"),
                ),
                **_BRANCH_CSV,
            ),
        ),
    ),
    Source(
        "web", "channel", "Web portal",
        "Registered users of the web portal keyed by username and email, their sessions and "
        "online orders. JSON Lines, UTF-8, ISO timestamps.",
        (
            Entity(
                "web", "users", "Registered web users; a row on registration and on each profile change.",
                format="jsonl", key=("user_id", "updated_at"),
                identifies_customer_by="email, username, phone",
                columns=(
                    _c("user_id", "string", "Web user id", "web_user_id"),
                    _c("username", "string", "Login name"),
                    _c("email", "string", "Email address (login)", "email"),
                    _c("first_name", "string", "Given name", "first_name"),
                    _c("last_name", "string", "Family name", "last_name"),
                    _c("phone", "string", "Phone number", "phone"),
                    _c("date_of_birth", "date", "Date of birth (YYYY-MM-DD)", "date_of_birth"),
                    _c("registered_at", "timestamp", "Registration time"),
                    _c("marketing_opt_in", "boolean", "Ticked the marketing box at registration"),
                    _c("updated_at", "timestamp", "When this version of the profile was written"),
                ),
            ),
            Entity(
                "web", "sessions", "Logged-in web sessions.",
                format="jsonl", key=("session_id",), identifies_customer_by="user_id",
                columns=(
                    _c("session_id", "string", "Session id"),
                    _c("user_id", "string", "Web user id", "web_user_id"),
                    _c("started_at", "timestamp", "Session start"),
                    _c("ended_at", "timestamp", "Session end"),
                    _c("pages_viewed", "integer", "Pages viewed"),
                    _c("device_type", "string", "desktop | tablet | mobile_browser"),
                ),
            ),
            Entity(
                "web", "orders", "Products ordered online.",
                format="jsonl", key=("order_id",), identifies_customer_by="user_id",
                columns=(
                    _c("order_id", "string", "Order id"),
                    _c("user_id", "string", "Web user id", "web_user_id"),
                    _c("ordered_at", "timestamp", "Order time"),
                    _c("product_code", "string", "Product ordered (seed products)"),
                    _c("quantity", "integer", "Quantity"),
                    _c("amount", "decimal", "Order value"),
                    _c("currency", "string", "ISO 4217 currency code"),
                    _c("status", "string", "placed | completed | cancelled"),
                ),
            ),
        ),
    ),
    Source(
        "mobile", "channel", "Mobile app",
        "Mobile app users keyed by phone number and device, and their in-app events. Parquet.",
        (
            Entity(
                "mobile", "users", "App registrations; a row on registration and on each profile change.",
                format="parquet", key=("app_user_id", "updated_at"),
                identifies_customer_by="phone, device_id, email",
                columns=(
                    _c("app_user_id", "string", "App user id", "app_user_id"),
                    _c("phone", "string", "Verified phone number", "phone"),
                    _c("device_id", "string", "Device identifier", "device_id"),
                    _c("email", "string", "Email address (optional)", "email"),
                    _c("full_name", "string", "Name as typed by the user", "full_name"),
                    _c("registered_at", "timestamp", "Registration time"),
                    _c("os", "string", "android | ios"),
                    _c("updated_at", "timestamp", "When this version of the profile was written"),
                ),
            ),
            Entity(
                "mobile", "events", "In-app events.",
                format="parquet", key=("event_id",), identifies_customer_by="app_user_id",
                columns=(
                    _c("event_id", "string", "Event id"),
                    _c("app_user_id", "string", "App user id", "app_user_id"),
                    _c("device_id", "string", "Device identifier", "device_id"),
                    _c("event_ts", "timestamp", "Event time"),
                    _c("event_type", "string", "login | view_product | transfer | bill_payment | support_chat"),
                    _c("screen", "string", "Screen name"),
                ),
            ),
        ),
    ),
    Source(
        "callcentre", "channel", "Call centre telephony and CRM",
        "Inbound calls keyed by the caller's phone number; the account number only when the "
        "agent identified the caller. Pipe-delimited CSV, UTF-8.",
        (
            Entity(
                "callcentre", "calls", "Inbound calls.",
                format="csv", delimiter="|", key=("call_id",),
                identifies_customer_by="caller_phone, account_number when identified",
                columns=(
                    _c("call_id", "string", "Call id"),
                    _c("caller_phone", "string", "Caller line identity, as captured", "phone"),
                    _c("account_number", "string", "Account number if the agent identified the caller", "account_number"),
                    _c("agent_id", "string", "Agent id"),
                    _c("started_at", "timestamp", "Call start"),
                    _c("wait_seconds", "integer", "Seconds on hold before answer"),
                    _c("duration_seconds", "integer", "Talk time in seconds"),
                    _c("reason_code", "string", "balance | card | loan | complaint | technical | sales | other"),
                    _c("resolution", "string", "resolved | transferred | callback | abandoned"),
                    _c("first_contact_resolved", "boolean", "Resolved without any follow-up contact"),
                ),
            ),
        ),
    ),
    Source(
        "email", "channel", "Email service provider",
        "Email sends, opens, clicks, bounces and unsubscribes keyed by email address. CSV "
        "with a UTF-8 byte-order mark.",
        (
            Entity(
                "email", "events", "Email engagement events.",
                format="csv", encoding="utf-8-sig", key=("event_id",),
                identifies_customer_by="email_address",
                columns=(
                    _c("event_id", "string", "Event id"),
                    _c("email_address", "string", "Recipient address", "email"),
                    _c("campaign_code", "string", "Marketing campaign", None),
                    _c("event_type", "string", "send | open | click | bounce | unsubscribe"),
                    _c("event_ts", "timestamp", "Event time"),
                ),
            ),
        ),
    ),
    Source(
        "marketing", "department", "Marketing automation",
        "Campaigns with their cost, captured leads (prospects) and consent decisions.",
        (
            Entity(
                "marketing", "campaigns", "Campaign master; a row when a campaign is created or changed.",
                format="csv", key=("campaign_code", "updated_at"), cadence_days=30,
                columns=(
                    _c("campaign_code", "string", "Campaign code"),
                    _c("campaign_name", "string", "Campaign name"),
                    _c("channel", "string", "Channel used (seed channels)"),
                    _c("start_date", "date", "First day"),
                    _c("end_date", "date", "Last day"),
                    _c("cost", "decimal", "Total spend"),
                    _c("currency", "string", "ISO 4217 currency code"),
                    _c("objective", "string", "acquisition | cross_sell | retention | win_back"),
                    _c("updated_at", "timestamp", "When this version was written"),
                ),
            ),
            Entity(
                "marketing", "leads", "Prospects captured by campaigns, events and association schemes.",
                format="csv", delimiter="\t", key=("lead_id",),
                identifies_customer_by="email, phone, name",
                columns=(
                    _c("lead_id", "string", "Lead id", "lead_id"),
                    _c("first_name", "string", "Given name", "first_name"),
                    _c("last_name", "string", "Family name", "last_name"),
                    _c("email", "string", "Email address", "email"),
                    _c("phone", "string", "Phone number", "phone"),
                    _c("campaign_code", "string", "Campaign that captured the lead"),
                    _c("scheme_code", "string", "Membership scheme the lead enrolled through, if any"),
                    _c("referred_by_account_number", "string", "Existing customer who referred the lead", "account_number"),
                    _c("captured_at", "timestamp", "When the lead was captured"),
                ),
            ),
            Entity(
                "marketing", "consents", "Consent and opt-out decisions per contact point.",
                format="jsonl", key=("consent_id",),
                identifies_customer_by="subject_value (an email or a phone number)",
                columns=(
                    _c("consent_id", "string", "Decision id"),
                    _c("subject_type", "string", "email | phone"),
                    _c("subject_value", "string", "The email address or phone number", "contact_point"),
                    _c("purpose", "string", "marketing | profiling"),
                    _c("channel", "string", "email | sms | phone | post"),
                    _c("granted", "boolean", "true = opt-in, false = opt-out"),
                    _c("recorded_at", "timestamp", "When the decision was recorded"),
                ),
            ),
        ),
    ),
    Source(
        "sales", "department", "Sales CRM",
        "Business accounts (organisations) with contact people and account managers, "
        "opportunities, proposals, key-account plans and association membership schemes.",
        (
            Entity(
                "sales", "organisations", "Business accounts; a row when created or changed.",
                format="csv", key=("org_id", "updated_at"),
                identifies_customer_by="org_id, registration_number",
                columns=(
                    _c("org_id", "string", "Organisation id", "org_id"),
                    _c("org_name", "string", "Registered name"),
                    _c("registration_number", "string", "Company registration number"),
                    _c("industry", "string", "Industry"),
                    _c("employee_count", "integer", "Employees"),
                    _c("city", "string", "City"),
                    _c("account_manager_id", "string", "Assigned account manager"),
                    _c("account_manager_name", "string", "Account manager's name"),
                    _c("is_employer_scheme", "boolean", "Sponsors its employees' accounts"),
                    _c("updated_at", "timestamp", "When this version was written"),
                ),
            ),
            Entity(
                "sales", "contacts", "Contact people at organisations.",
                format="csv", key=("contact_id", "updated_at"),
                identifies_customer_by="email, phone, name",
                columns=(
                    _c("contact_id", "string", "Contact id", "contact_id"),
                    _c("org_id", "string", "Organisation", "org_id"),
                    _c("first_name", "string", "Given name", "first_name"),
                    _c("last_name", "string", "Family name", "last_name"),
                    _c("email", "string", "Work email", "email"),
                    _c("phone", "string", "Phone", "phone"),
                    _c("job_title", "string", "Job title"),
                    _c("contact_role", "string", "decision_maker | user | finance"),
                    _c("updated_at", "timestamp", "When this version was written"),
                ),
            ),
            Entity(
                "sales", "opportunities", "Sales opportunities with organisations or individuals.",
                format="csv", key=("opportunity_id", "updated_at"),
                identifies_customer_by="org_id or account_number",
                columns=(
                    _c("opportunity_id", "string", "Opportunity id"),
                    _c("org_id", "string", "Organisation (business opportunities)", "org_id"),
                    _c("account_number", "string", "Customer (personal opportunities)", "account_number"),
                    _c("product_code", "string", "Product (seed products)"),
                    _c("stage", "string", "open | proposal | won | lost"),
                    _c("amount", "decimal", "Expected value"),
                    _c("opened_at", "timestamp", "Opened"),
                    _c("closed_at", "timestamp", "Closed, when won or lost"),
                    _c("owner_id", "string", "Sales owner"),
                    _c("updated_at", "timestamp", "When this version was written"),
                ),
            ),
            Entity(
                "sales", "proposals", "Proposals sent for opportunities.",
                format="csv", key=("proposal_id",),
                columns=(
                    _c("proposal_id", "string", "Proposal id"),
                    _c("opportunity_id", "string", "Opportunity"),
                    _c("sent_at", "timestamp", "Sent"),
                    _c("proposed_value", "decimal", "Value proposed"),
                    _c("status", "string", "sent | accepted | rejected"),
                ),
            ),
            Entity(
                "sales", "account_plans", "Key-account plans with yearly target values.",
                format="csv", key=("plan_id",), cadence_days=365,
                identifies_customer_by="org_id",
                columns=(
                    _c("plan_id", "string", "Plan id"),
                    _c("org_id", "string", "Organisation", "org_id"),
                    _c("plan_year", "integer", "Plan year"),
                    _c("target_value", "decimal", "Target revenue for the year"),
                    _c("account_manager_id", "string", "Account manager"),
                ),
            ),
            Entity(
                "sales", "schemes", "Association membership schemes through which members enrol.",
                format="csv", key=("scheme_code",), cadence_days=365, extract="full",
                columns=(
                    _c("scheme_code", "string", "Scheme code"),
                    _c("scheme_name", "string", "Scheme name"),
                    _c("association_name", "string", "The association"),
                    _c("discount_rate", "decimal", "Member discount, 0-1"),
                    _c("started_at", "date", "Scheme start"),
                ),
            ),
        ),
    ),
    Source(
        "service", "department", "Service desk",
        "Service cases and complaints with open/close times, escalation and satisfaction. "
        "JSON Lines; the customer reference is whatever the customer gave.",
        (
            Entity(
                "service", "cases", "Service cases; a row when opened and when updated or closed.",
                format="jsonl", key=("case_id", "updated_at"),
                identifies_customer_by="customer_ref typed by customer_ref_type (account_number, email or phone)",
                columns=(
                    _c("case_id", "string", "Case id"),
                    _c("customer_ref", "string", "Customer reference as captured", "typed_ref"),
                    _c("customer_ref_type", "string", "account_number | email | phone"),
                    _c("channel", "string", "Channel the case came in through (seed channels)"),
                    _c("category", "string", "billing | card | loan | fees | service_quality | technical | other"),
                    _c("is_complaint", "boolean", "A complaint rather than a request"),
                    _c("priority", "string", "low | medium | high"),
                    _c("opened_at", "timestamp", "Opened"),
                    _c("closed_at", "timestamp", "Closed (empty while open)"),
                    _c("escalated", "boolean", "Escalated to a second line"),
                    _c("satisfaction_score", "integer", "Post-closure survey 1-5, if answered"),
                    _c("status", "string", "open | closed"),
                    _c("updated_at", "timestamp", "When this version was written"),
                ),
            ),
        ),
    ),
    Source(
        "credit", "department", "Credit decision system",
        "Credit limit requests and decisions per account.",
        (
            Entity(
                "credit", "limit_changes", "Limit increase/decrease requests with the decision.",
                format="csv", key=("change_id",), identifies_customer_by="account_number",
                columns=(
                    _c("change_id", "string", "Decision id"),
                    _c("account_number", "string", "Customer account number", "account_number"),
                    _c("product_code", "string", "Credit product (seed products)"),
                    _c("old_limit", "decimal", "Limit before"),
                    _c("requested_limit", "decimal", "Limit requested"),
                    _c("new_limit", "decimal", "Limit after the decision"),
                    _c("decision", "string", "approved | refused"),
                    _c("requested_at", "timestamp", "Requested"),
                    _c("effective_date", "date", "Date the new limit takes effect"),
                    _c("reason", "string", "Decision reason"),
                ),
            ),
        ),
    ),
    Source(
        "collections", "department", "Collections system",
        "Late payments, late fees and finance charges per account.",
        (
            Entity(
                "collections", "events", "Collections events.",
                format="csv", key=("event_id",), identifies_customer_by="account_number",
                columns=(
                    _c("event_id", "string", "Event id"),
                    _c("account_number", "string", "Customer account number", "account_number"),
                    _c("event_type", "string", "late_payment | late_fee | finance_charge | payment_plan"),
                    _c("amount", "decimal", "Amount charged or overdue"),
                    _c("due_date", "date", "Payment due date"),
                    _c("event_date", "date", "Date of the event"),
                    _c("days_past_due", "integer", "Days past due"),
                ),
            ),
        ),
    ),
    Source(
        "billing", "department", "Billing and core product system",
        "Products held (with bill payer, employer sponsor and membership scheme) and every "
        "purchase or charge. Parquet.",
        (
            Entity(
                "billing", "holdings", "Product holdings; a row when opened and when changed or closed.",
                format="parquet", key=("holding_id", "updated_at"),
                identifies_customer_by="account_number; payer_account_number is the bill payer",
                columns=(
                    _c("holding_id", "string", "Holding id"),
                    _c("account_number", "string", "Customer who uses the product", "account_number"),
                    _c("payer_account_number", "string", "Customer who pays the bills, if someone else", "account_number"),
                    _c("product_code", "string", "Product (seed products)"),
                    _c("sponsor_org_id", "string", "Employer sponsoring the product, if any", "org_id"),
                    _c("scheme_code", "string", "Membership scheme, if any"),
                    _c("acquisition_channel", "string", "Channel the product was sold through (seed channels)"),
                    _c("campaign_code", "string", "Campaign credited with the sale, if any"),
                    _c("start_date", "date", "Opened"),
                    _c("end_date", "date", "Closed (empty while held)"),
                    _c("status", "string", "active | closed"),
                    _c("monthly_fee", "decimal", "Recurring fee"),
                    _c("updated_at", "timestamp", "When this version was written"),
                ),
            ),
            Entity(
                "billing", "transactions", "Purchases, payments and charges.",
                format="parquet", key=("txn_id",), identifies_customer_by="account_number",
                columns=(
                    _c("txn_id", "string", "Transaction id"),
                    _c("account_number", "string", "Customer account number", "account_number"),
                    _c("holding_id", "string", "Holding the transaction belongs to"),
                    _c("product_code", "string", "Product (seed products)"),
                    _c("txn_ts", "timestamp", "Transaction time"),
                    _c("amount", "decimal", "Amount; purchases positive, refunds negative"),
                    _c("currency", "string", "ISO 4217 currency code"),
                    _c("txn_type", "string", "purchase | fee | refund | interest"),
                    _c("channel", "string", "Channel of the transaction (seed channels)"),
                ),
            ),
        ),
    ),
)

ENTITIES: tuple[Entity, ...] = tuple(e for s in SOURCES for e in s.entities)


def get_source(name: str) -> Source:
    for source in SOURCES:
        if source.name == name:
            return source
    raise KeyError(f"unknown source {name!r}; known: {', '.join(s.name for s in SOURCES)}")


def get_entity(source: str, entity: str) -> Entity:
    for e in get_source(source).entities:
        if e.name == entity:
            return e
    raise KeyError(f"unknown entity {source}.{entity}")
