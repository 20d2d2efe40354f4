-- The floor: what the pipeline's main transforms cost when written by hand in DuckDB SQL.
--
-- Run by benchmarks/bench_pipeline.py on a COPY of the built warehouse (schema floor), with the
-- same threads as dbt (2). DuckDB-only syntax is allowed here: this is a yardstick, not a model.
--
-- Covers (same rules as dbt/macros/staging/stage_entity.sql and the marts):
--   staging of the 12 entities that feed the facts (billing transactions and holdings, branch
--   visits and teller transactions, web sessions and orders, mobile events, call-centre calls,
--   email events, service cases, credit limit changes, collections events): trim, '' -> NULL,
--   typed values (timestamps in the entity's formats, decimals, whole numbers, booleans, codes
--   against their lists and the reference seeds, email and E.164 phone normalisation), reason
--   codes (BAD_*, FUTURE_DATE, IMPOSSIBLE_DATE, MISSING_KEY, NEGATIVE_AMOUNT, UNKNOWN_CODE),
--   DUPLICATE_KEY (first delivery wins), and the accepted / quarantined split (floor.quarantine);
--   marts: fct_interactions (touchpoints of those entities), fct_transactions, fct_service_cases,
--   the current holdings (int_holdings_current) and dim_customer.
-- Does NOT cover: staging of the person/registration entities and the sales/marketing entities
--   (leads, campaigns, consents, opportunities, proposals, ...: together ~5% of raw rows), identity
--   resolution and the identity inputs, the golden record, households and relationships
--   (dim_customer reads integration.int_party_golden, int_household_members and
--   int_party_relationships as the pipeline built them), customer_360, metrics, party marts,
--   dbt tests. The like-for-like ratio in the results uses only the dbt models this file redoes.

create schema if not exists floor;

create or replace macro f_txt(s) as nullif(trim(s), '');

create or replace macro f_ts(s) as cast(try_strptime(nullif(trim(s), ''), ['%Y-%m-%dT%H:%M:%S', '%Y-%m-%d %H:%M:%S',
    '%Y-%m-%dT%H:%M:%S.%f', '%Y-%m-%d %H:%M:%S.%f', '%Y-%m-%dT%H:%M', '%Y-%m-%d %H:%M']) as timestamp);

create or replace macro f_ts_dmy(s) as cast(try_strptime(nullif(trim(s), ''), ['%d/%m/%Y %H:%M', '%d/%m/%Y %H:%M:%S']) as timestamp);

create or replace macro f_date(s) as cast(try_strptime(nullif(trim(s), ''), '%Y-%m-%d') as date);

create or replace macro f_int(s) as case when regexp_matches(trim(s), '^[+-]?[0-9]+([.]0*)?$') then try_cast(trim(s) as bigint) end;

create or replace macro f_dec(s) as try_cast(nullif(trim(s), '') as decimal(18, 2));

create or replace macro f_bool(s) as case when lower(trim(s)) in ('true', 't', 'yes', 'y', '1') then true
    when lower(trim(s)) in ('false', 'f', 'no', 'n', '0') then false end;

create or replace macro f_email(s) as case when regexp_matches(lower(nullif(trim(s), '')),
    '^[a-z0-9._%+-]+@[a-z0-9-]+([.][a-z0-9-]+)*[.][a-z]{2,}$') then lower(nullif(trim(s), '')) end;

create or replace macro f_e164(d, s) as case
    when d like '2340%' then '234' || substr(d, 5)
    when trim(s) like '+%' then d
    when d like '00%' then substr(d, 3)
    when d like '0%' and length(d) >= 8 then '234' || substr(d, 2)
    when d like '234%' then d
    when length(d) between 7 and 10 then '234' || d
    else d end;

create or replace macro f_phone(s) as case when length(f_e164(regexp_replace(s, '[^0-9]', '', 'g'), s)) between 8 and 15
    then '+' || f_e164(regexp_replace(s, '[^0-9]', '', 'g'), s) end;

-- a timestamp that parsed wrongly, lies in the future or before 1900
create or replace macro f_ts_reasons(txt, ts) as concat_ws(',',
    case when f_txt(txt) is not null and ts is null then 'BAD_TIMESTAMP' end,
    case when cast(ts as date) > current_date + 1 then 'FUTURE_DATE' end,
    case when cast(ts as date) < date '1900-01-01' then 'IMPOSSIBLE_DATE' end);

create or replace macro f_known_product(p) as p is null or p in (select product_code from reference.products);

create or replace macro f_known_channel(c) as c is null or c in (select channel_code from reference.channels);

create or replace macro f_known_branch(b) as b is null or b in (select branch_code from reference.branches);

-- ---------------------------------------------------------------- staging: typed + reasons

create or replace table floor.stg_billing_transactions as
with typed as (
    select f_txt(txn_id) as txn_id, f_txt(account_number) as account_number, f_txt(holding_id) as holding_id,
        upper(f_txt(product_code)) as product_code, f_ts(txn_ts) as txn_ts, f_dec(amount) as amount,
        upper(f_txt(currency)) as currency, lower(f_txt(txn_type)) as txn_type, lower(f_txt(channel)) as channel,
        txn_ts as t_ts, amount as t_amount, _batch_id, _source_file, _row_number, _loaded_at
    from raw.billing__transactions
), checked as (
    select *, nullif(concat_ws(',',
        case when f_txt(t_amount) is not null and amount is null then 'BAD_NUMBER' end,
        nullif(f_ts_reasons(t_ts, txn_ts), ''),
        case when txn_id is null then 'MISSING_KEY' end,
        case when (txn_type in ('purchase', 'fee', 'interest') and amount <= 0) or (txn_type = 'refund' and amount >= 0) then 'NEGATIVE_AMOUNT' end,
        case when not f_known_product(product_code) or txn_type not in ('purchase', 'fee', 'refund', 'interest')
            or not f_known_channel(channel) then 'UNKNOWN_CODE' end), '') as reasons
    from typed
)
select * exclude (t_ts, t_amount, reasons),
    coalesce(reasons, case when row_number() over (partition by txn_id, reasons
        order by _loaded_at, _source_file, _row_number, _batch_id) > 1 then 'DUPLICATE_KEY' end) as _quarantine_reasons
from checked;

create or replace table floor.stg_billing_holdings as
with typed as (
    select f_txt(holding_id) as holding_id, f_txt(account_number) as account_number,
        f_txt(payer_account_number) as payer_account_number, upper(f_txt(product_code)) as product_code,
        f_txt(sponsor_org_id) as sponsor_org_id, f_txt(scheme_code) as scheme_code,
        lower(f_txt(acquisition_channel)) as acquisition_channel, f_txt(campaign_code) as campaign_code,
        f_date(start_date) as start_date, f_date(end_date) as end_date, lower(f_txt(status)) as status,
        f_dec(monthly_fee) as monthly_fee, f_ts(updated_at) as updated_at,
        start_date as t_start, end_date as t_end, monthly_fee as t_fee, updated_at as t_upd,
        _batch_id, _source_file, _row_number, _loaded_at
    from raw.billing__holdings
), checked as (
    select *, nullif(concat_ws(',',
        case when (f_txt(t_start) is not null and start_date is null) or (f_txt(t_end) is not null and end_date is null) then 'BAD_DATE' end,
        case when f_txt(t_fee) is not null and monthly_fee is null then 'BAD_NUMBER' end,
        case when f_txt(t_upd) is not null and updated_at is null then 'BAD_TIMESTAMP' end,
        case when start_date > current_date + 1 or end_date > current_date + 1 or cast(updated_at as date) > current_date + 1 then 'FUTURE_DATE' end,
        case when start_date < date '1900-01-01' or end_date < date '1900-01-01' or cast(updated_at as date) < date '1900-01-01' then 'IMPOSSIBLE_DATE' end,
        case when holding_id is null or f_txt(t_upd) is null then 'MISSING_KEY' end,
        case when monthly_fee < 0 then 'NEGATIVE_AMOUNT' end,
        case when not f_known_product(product_code) or not f_known_channel(acquisition_channel)
            or status not in ('active', 'closed') then 'UNKNOWN_CODE' end), '') as reasons
    from typed
)
select * exclude (t_start, t_end, t_fee, t_upd, reasons),
    coalesce(reasons, case when row_number() over (partition by holding_id, updated_at, reasons
        order by _loaded_at, _source_file, _row_number, _batch_id) > 1 then 'DUPLICATE_KEY' end) as _quarantine_reasons
from checked;

create or replace table floor.stg_branch_visits as
with typed as (
    select f_txt(visit_id) as visit_id, f_txt(account_number) as account_number, upper(f_txt(branch_code)) as branch_code,
        f_ts_dmy(visit_ts) as visit_ts, lower(f_txt(purpose)) as purpose, lower(f_txt(outcome)) as outcome,
        visit_ts as t_ts, _batch_id, _source_file, _row_number, _loaded_at
    from raw.branch__visits
), checked as (
    select *, nullif(concat_ws(',',
        nullif(f_ts_reasons(t_ts, visit_ts), ''),
        case when visit_id is null then 'MISSING_KEY' end,
        case when not f_known_branch(branch_code)
            or purpose not in ('enquiry', 'deposit', 'withdrawal', 'account_opening', 'complaint', 'advice')
            or outcome not in ('served', 'referred', 'left_before_served') then 'UNKNOWN_CODE' end), '') as reasons
    from typed
)
select * exclude (t_ts, reasons),
    coalesce(reasons, case when row_number() over (partition by visit_id, reasons
        order by _loaded_at, _source_file, _row_number, _batch_id) > 1 then 'DUPLICATE_KEY' end) as _quarantine_reasons
from checked;

create or replace table floor.stg_branch_teller as
with typed as (
    select f_txt(txn_id) as txn_id, f_txt(account_number) as account_number, upper(f_txt(branch_code)) as branch_code,
        f_ts_dmy(txn_ts) as txn_ts, lower(f_txt(txn_type)) as txn_type, f_dec(amount) as amount,
        upper(f_txt(currency)) as currency, txn_ts as t_ts, amount as t_amount,
        _batch_id, _source_file, _row_number, _loaded_at
    from raw.branch__teller_transactions
), checked as (
    select *, nullif(concat_ws(',',
        case when f_txt(t_amount) is not null and amount is null then 'BAD_NUMBER' end,
        nullif(f_ts_reasons(t_ts, txn_ts), ''),
        case when txn_id is null then 'MISSING_KEY' end,
        case when amount < 0 then 'NEGATIVE_AMOUNT' end,
        case when not f_known_branch(branch_code) or txn_type not in ('deposit', 'withdrawal', 'cheque') then 'UNKNOWN_CODE' end), '') as reasons
    from typed
)
select * exclude (t_ts, t_amount, reasons),
    coalesce(reasons, case when row_number() over (partition by txn_id, reasons
        order by _loaded_at, _source_file, _row_number, _batch_id) > 1 then 'DUPLICATE_KEY' end) as _quarantine_reasons
from checked;

create or replace table floor.stg_web_sessions as
with typed as (
    select f_txt(session_id) as session_id, f_txt(user_id) as user_id, f_ts(started_at) as started_at,
        f_ts(ended_at) as ended_at, f_int(pages_viewed) as pages_viewed, lower(f_txt(device_type)) as device_type,
        started_at as t_start, ended_at as t_end, pages_viewed as t_pages, _batch_id, _source_file, _row_number, _loaded_at
    from raw.web__sessions
), checked as (
    select *, nullif(concat_ws(',',
        case when f_txt(t_pages) is not null and pages_viewed is null then 'BAD_INTEGER' end,
        nullif(f_ts_reasons(t_start, started_at), ''), nullif(f_ts_reasons(t_end, ended_at), ''),
        case when session_id is null then 'MISSING_KEY' end,
        case when device_type not in ('desktop', 'tablet', 'mobile_browser') then 'UNKNOWN_CODE' end), '') as reasons
    from typed
)
select * exclude (t_start, t_end, t_pages, reasons),
    coalesce(reasons, case when row_number() over (partition by session_id, reasons
        order by _loaded_at, _source_file, _row_number, _batch_id) > 1 then 'DUPLICATE_KEY' end) as _quarantine_reasons
from checked;

create or replace table floor.stg_web_orders as
with typed as (
    select f_txt(order_id) as order_id, f_txt(user_id) as user_id, f_ts(ordered_at) as ordered_at,
        upper(f_txt(product_code)) as product_code, f_int(quantity) as quantity, f_dec(amount) as amount,
        upper(f_txt(currency)) as currency, lower(f_txt(status)) as status,
        ordered_at as t_ts, quantity as t_qty, amount as t_amount, _batch_id, _source_file, _row_number, _loaded_at
    from raw.web__orders
), checked as (
    select *, nullif(concat_ws(',',
        case when f_txt(t_qty) is not null and quantity is null then 'BAD_INTEGER' end,
        case when f_txt(t_amount) is not null and amount is null then 'BAD_NUMBER' end,
        nullif(f_ts_reasons(t_ts, ordered_at), ''),
        case when order_id is null then 'MISSING_KEY' end,
        case when amount < 0 then 'NEGATIVE_AMOUNT' end,
        case when not f_known_product(product_code) or status not in ('placed', 'completed', 'cancelled') then 'UNKNOWN_CODE' end), '') as reasons
    from typed
)
select * exclude (t_ts, t_qty, t_amount, reasons),
    coalesce(reasons, case when row_number() over (partition by order_id, reasons
        order by _loaded_at, _source_file, _row_number, _batch_id) > 1 then 'DUPLICATE_KEY' end) as _quarantine_reasons
from checked;

create or replace table floor.stg_mobile_events as
with typed as (
    select f_txt(event_id) as event_id, f_txt(app_user_id) as app_user_id, f_txt(device_id) as device_id,
        f_ts(event_ts) as event_ts, lower(f_txt(event_type)) as event_type, f_txt(screen) as screen,
        event_ts as t_ts, _batch_id, _source_file, _row_number, _loaded_at
    from raw.mobile__events
), checked as (
    select *, nullif(concat_ws(',',
        nullif(f_ts_reasons(t_ts, event_ts), ''),
        case when event_id is null then 'MISSING_KEY' end,
        case when event_type not in ('login', 'view_product', 'transfer', 'bill_payment', 'support_chat') then 'UNKNOWN_CODE' end), '') as reasons
    from typed
)
select * exclude (t_ts, reasons),
    coalesce(reasons, case when row_number() over (partition by event_id, reasons
        order by _loaded_at, _source_file, _row_number, _batch_id) > 1 then 'DUPLICATE_KEY' end) as _quarantine_reasons
from checked;

create or replace table floor.stg_callcentre_calls as
with typed as (
    select f_txt(call_id) as call_id, f_phone(f_txt(caller_phone)) as caller_phone, f_txt(account_number) as account_number,
        f_txt(agent_id) as agent_id, f_ts(started_at) as started_at, f_int(wait_seconds) as wait_seconds,
        f_int(duration_seconds) as duration_seconds, lower(f_txt(reason_code)) as reason_code,
        lower(f_txt(resolution)) as resolution, f_bool(first_contact_resolved) as first_contact_resolved,
        started_at as t_ts, wait_seconds as t_wait, duration_seconds as t_dur, first_contact_resolved as t_fcr,
        _batch_id, _source_file, _row_number, _loaded_at
    from raw.callcentre__calls
), checked as (
    select *, nullif(concat_ws(',',
        case when f_txt(t_fcr) is not null and first_contact_resolved is null then 'BAD_BOOLEAN' end,
        case when (f_txt(t_wait) is not null and wait_seconds is null) or (f_txt(t_dur) is not null and duration_seconds is null) then 'BAD_INTEGER' end,
        nullif(f_ts_reasons(t_ts, started_at), ''),
        case when call_id is null then 'MISSING_KEY' end,
        case when reason_code not in ('balance', 'card', 'loan', 'complaint', 'technical', 'sales', 'other')
            or resolution not in ('resolved', 'transferred', 'callback', 'abandoned') then 'UNKNOWN_CODE' end), '') as reasons
    from typed
)
select * exclude (t_ts, t_wait, t_dur, t_fcr, reasons),
    coalesce(reasons, case when row_number() over (partition by call_id, reasons
        order by _loaded_at, _source_file, _row_number, _batch_id) > 1 then 'DUPLICATE_KEY' end) as _quarantine_reasons
from checked;

create or replace table floor.stg_email_events as
with typed as (
    select f_txt(event_id) as event_id, f_email(email_address) as email_address, f_txt(campaign_code) as campaign_code,
        lower(f_txt(event_type)) as event_type, f_ts(event_ts) as event_ts,
        event_ts as t_ts, _batch_id, _source_file, _row_number, _loaded_at
    from raw.email__events
), checked as (
    select *, nullif(concat_ws(',',
        nullif(f_ts_reasons(t_ts, event_ts), ''),
        case when event_id is null then 'MISSING_KEY' end,
        case when event_type not in ('send', 'open', 'click', 'bounce', 'unsubscribe') then 'UNKNOWN_CODE' end), '') as reasons
    from typed
)
select * exclude (t_ts, reasons),
    coalesce(reasons, case when row_number() over (partition by event_id, reasons
        order by _loaded_at, _source_file, _row_number, _batch_id) > 1 then 'DUPLICATE_KEY' end) as _quarantine_reasons
from checked;

create or replace table floor.stg_service_cases as
with typed as (
    select f_txt(case_id) as case_id,
        case lower(f_txt(customer_ref_type)) when 'email' then f_email(customer_ref) when 'phone' then f_phone(customer_ref)
            else f_txt(customer_ref) end as customer_ref,
        lower(f_txt(customer_ref_type)) as customer_ref_type, lower(f_txt(channel)) as channel,
        lower(f_txt(category)) as category, f_bool(is_complaint) as is_complaint, lower(f_txt(priority)) as priority,
        f_ts(opened_at) as opened_at, f_ts(closed_at) as closed_at, f_bool(escalated) as escalated,
        f_int(satisfaction_score) as satisfaction_score, lower(f_txt(status)) as status, f_ts(updated_at) as updated_at,
        is_complaint as t_cmp, escalated as t_esc, satisfaction_score as t_sat, opened_at as t_open, closed_at as t_close,
        updated_at as t_upd, _batch_id, _source_file, _row_number, _loaded_at
    from raw.service__cases
), checked as (
    select *, nullif(concat_ws(',',
        case when (f_txt(t_cmp) is not null and is_complaint is null) or (f_txt(t_esc) is not null and escalated is null) then 'BAD_BOOLEAN' end,
        case when f_txt(t_sat) is not null and satisfaction_score is null then 'BAD_INTEGER' end,
        nullif(f_ts_reasons(t_open, opened_at), ''), nullif(f_ts_reasons(t_close, closed_at), ''),
        nullif(f_ts_reasons(t_upd, updated_at), ''),
        case when case_id is null or f_txt(t_upd) is null then 'MISSING_KEY' end,
        case when not f_known_channel(channel)
            or customer_ref_type not in ('account_number', 'email', 'phone')
            or category not in ('billing', 'card', 'loan', 'fees', 'service_quality', 'technical', 'other')
            or priority not in ('low', 'medium', 'high') or status not in ('open', 'closed') then 'UNKNOWN_CODE' end), '') as reasons
    from typed
)
select * exclude (t_cmp, t_esc, t_sat, t_open, t_close, t_upd, reasons),
    coalesce(reasons, case when row_number() over (partition by case_id, updated_at, reasons
        order by _loaded_at, _source_file, _row_number, _batch_id) > 1 then 'DUPLICATE_KEY' end) as _quarantine_reasons
from checked;

create or replace table floor.stg_credit_limit_changes as
with typed as (
    select f_txt(change_id) as change_id, f_txt(account_number) as account_number, upper(f_txt(product_code)) as product_code,
        f_dec(old_limit) as old_limit, f_dec(requested_limit) as requested_limit, f_dec(new_limit) as new_limit,
        lower(f_txt(decision)) as decision, f_ts(requested_at) as requested_at, f_date(effective_date) as effective_date,
        f_txt(reason) as reason, old_limit as t_old, requested_limit as t_req, new_limit as t_new, requested_at as t_ts,
        effective_date as t_eff, _batch_id, _source_file, _row_number, _loaded_at
    from raw.credit__limit_changes
), checked as (
    select *, nullif(concat_ws(',',
        case when f_txt(t_eff) is not null and effective_date is null then 'BAD_DATE' end,
        case when (f_txt(t_old) is not null and old_limit is null) or (f_txt(t_req) is not null and requested_limit is null)
            or (f_txt(t_new) is not null and new_limit is null) then 'BAD_NUMBER' end,
        nullif(f_ts_reasons(t_ts, requested_at), ''),
        case when effective_date < date '1900-01-01' then 'IMPOSSIBLE_DATE' end,
        case when change_id is null then 'MISSING_KEY' end,
        case when old_limit < 0 or requested_limit < 0 or new_limit < 0 then 'NEGATIVE_AMOUNT' end,
        case when not f_known_product(product_code) or decision not in ('approved', 'refused') then 'UNKNOWN_CODE' end), '') as reasons
    from typed
)
select * exclude (t_old, t_req, t_new, t_ts, t_eff, reasons),
    coalesce(reasons, case when row_number() over (partition by change_id, reasons
        order by _loaded_at, _source_file, _row_number, _batch_id) > 1 then 'DUPLICATE_KEY' end) as _quarantine_reasons
from checked;

create or replace table floor.stg_collections_events as
with typed as (
    select f_txt(event_id) as event_id, f_txt(account_number) as account_number, lower(f_txt(event_type)) as event_type,
        f_dec(amount) as amount, f_date(due_date) as due_date, f_date(event_date) as event_date,
        f_int(days_past_due) as days_past_due, amount as t_amount, due_date as t_due, event_date as t_ev,
        days_past_due as t_dpd, _batch_id, _source_file, _row_number, _loaded_at
    from raw.collections__events
), checked as (
    select *, nullif(concat_ws(',',
        case when (f_txt(t_due) is not null and due_date is null) or (f_txt(t_ev) is not null and event_date is null) then 'BAD_DATE' end,
        case when f_txt(t_dpd) is not null and days_past_due is null then 'BAD_INTEGER' end,
        case when f_txt(t_amount) is not null and amount is null then 'BAD_NUMBER' end,
        case when event_date > current_date + 1 then 'FUTURE_DATE' end,
        case when due_date < date '1900-01-01' or event_date < date '1900-01-01' then 'IMPOSSIBLE_DATE' end,
        case when event_id is null then 'MISSING_KEY' end,
        case when amount < 0 then 'NEGATIVE_AMOUNT' end,
        case when event_type not in ('late_payment', 'late_fee', 'finance_charge', 'payment_plan') then 'UNKNOWN_CODE' end), '') as reasons
    from typed
)
select * exclude (t_amount, t_due, t_ev, t_dpd, reasons),
    coalesce(reasons, case when row_number() over (partition by event_id, reasons
        order by _loaded_at, _source_file, _row_number, _batch_id) > 1 then 'DUPLICATE_KEY' end) as _quarantine_reasons
from checked;

-- ---------------------------------------------------------------- the quarantine (rows in = accepted + quarantined)

create or replace table floor.quarantine as
select 'billing__transactions' as entity, _source_file, _row_number, txn_id as record_key, _quarantine_reasons from floor.stg_billing_transactions where _quarantine_reasons is not null
union all select 'billing__holdings', _source_file, _row_number, holding_id, _quarantine_reasons from floor.stg_billing_holdings where _quarantine_reasons is not null
union all select 'branch__visits', _source_file, _row_number, visit_id, _quarantine_reasons from floor.stg_branch_visits where _quarantine_reasons is not null
union all select 'branch__teller_transactions', _source_file, _row_number, txn_id, _quarantine_reasons from floor.stg_branch_teller where _quarantine_reasons is not null
union all select 'web__sessions', _source_file, _row_number, session_id, _quarantine_reasons from floor.stg_web_sessions where _quarantine_reasons is not null
union all select 'web__orders', _source_file, _row_number, order_id, _quarantine_reasons from floor.stg_web_orders where _quarantine_reasons is not null
union all select 'mobile__events', _source_file, _row_number, event_id, _quarantine_reasons from floor.stg_mobile_events where _quarantine_reasons is not null
union all select 'callcentre__calls', _source_file, _row_number, call_id, _quarantine_reasons from floor.stg_callcentre_calls where _quarantine_reasons is not null
union all select 'email__events', _source_file, _row_number, event_id, _quarantine_reasons from floor.stg_email_events where _quarantine_reasons is not null
union all select 'service__cases', _source_file, _row_number, case_id, _quarantine_reasons from floor.stg_service_cases where _quarantine_reasons is not null
union all select 'credit__limit_changes', _source_file, _row_number, change_id, _quarantine_reasons from floor.stg_credit_limit_changes where _quarantine_reasons is not null
union all select 'collections__events', _source_file, _row_number, event_id, _quarantine_reasons from floor.stg_collections_events where _quarantine_reasons is not null;

-- ---------------------------------------------------------------- marts

create or replace table floor.fct_interactions as
with cases as (
    select * from floor.stg_service_cases where _quarantine_reasons is null
    qualify row_number() over (partition by case_id order by updated_at desc, _loaded_at desc, _source_file desc, _row_number desc) = 1
), touchpoints as (
    select 'branch' as source_system, 'visits' as source_entity, visit_id as source_key, 'account_number' as id_type,
        account_number as id_value, null::varchar as fb_type, null::varchar as fb_value, 'branch' as channel,
        'operations' as department, 'branch_visit' as interaction_type, visit_ts as occurred_at, outcome,
        purpose as detail, null::decimal(18, 2) as amount
    from floor.stg_branch_visits where _quarantine_reasons is null
    union all select 'branch', 'teller_transactions', txn_id, 'account_number', account_number, null, null, 'branch',
        'operations', 'teller_transaction', txn_ts, 'completed', txn_type, amount
    from floor.stg_branch_teller where _quarantine_reasons is null
    union all select 'web', 'sessions', session_id, 'web_user_id', user_id, null, null, 'web', 'operations',
        'web_session', started_at, 'completed', device_type, null
    from floor.stg_web_sessions where _quarantine_reasons is null
    union all select 'web', 'orders', order_id, 'web_user_id', user_id, null, null, 'web', 'sales', 'web_order',
        ordered_at, status, product_code, amount
    from floor.stg_web_orders where _quarantine_reasons is null
    union all select 'mobile', 'events', event_id, 'app_user_id', app_user_id, null, null, 'mobile', 'operations',
        'app_' || event_type, event_ts, 'completed', screen, null
    from floor.stg_mobile_events where _quarantine_reasons is null
    union all select 'callcentre', 'calls', call_id, 'account_number', account_number, 'phone', caller_phone,
        'call_centre', 'service', 'call', started_at, resolution, reason_code, null
    from floor.stg_callcentre_calls where _quarantine_reasons is null
    union all select 'email', 'events', event_id, 'email', email_address, null, null, 'email', 'marketing',
        'email_' || event_type, event_ts, event_type, campaign_code, null
    from floor.stg_email_events where _quarantine_reasons is null
    union all select 'service', 'cases', case_id, customer_ref_type, customer_ref, null, null, channel, 'service',
        case when is_complaint then 'complaint' else 'service_request' end, opened_at, status, category, null
    from cases
    union all select 'credit', 'limit_changes', change_id, 'account_number', account_number, null, null,
        'back_office', 'credit', 'credit_limit_decision', requested_at, decision, product_code, new_limit
    from floor.stg_credit_limit_changes where _quarantine_reasons is null
    union all select 'collections', 'events', event_id, 'account_number', account_number, null, null,
        'back_office', 'collections', 'collections_' || event_type, cast(event_date as timestamp), event_type,
        cast(days_past_due as varchar), amount
    from floor.stg_collections_events where _quarantine_reasons is null
)
select t.source_system || ':' || t.source_entity || ':' || t.source_key as interaction_id,
    coalesce(p.party_id, f.party_id) as party_id, t.channel, t.department, t.interaction_type, t.occurred_at,
    cast(t.occurred_at as date) as occurred_on, t.outcome, t.detail, t.amount, t.source_system, t.source_entity, t.source_key
from touchpoints as t
left join integration.party_identifiers as p on p.id_type = t.id_type and p.id_value = t.id_value
left join integration.party_identifiers as f on f.id_type = t.fb_type and f.id_value = t.fb_value;

create or replace table floor.fct_transactions as
with movements as (
    select 'billing' as source_system, 'transactions' as source_entity, txn_id as source_key, account_number as id_value,
        'account_number' as id_type, product_code, holding_id, txn_ts as occurred_at, amount, currency,
        txn_type as transaction_type, channel, true as counts_as_revenue
    from floor.stg_billing_transactions where _quarantine_reasons is null
    union all select 'branch', 'teller_transactions', txn_id, account_number, 'account_number', null, null, txn_ts,
        amount, currency, txn_type, 'branch', false
    from floor.stg_branch_teller where _quarantine_reasons is null
    union all select 'web', 'orders', order_id, user_id, 'web_user_id', product_code, null, ordered_at, amount,
        currency, 'order_' || status, 'web', false
    from floor.stg_web_orders where _quarantine_reasons is null
)
select m.source_system || ':' || m.source_entity || ':' || m.source_key as transaction_id, i.party_id, m.product_code,
    m.holding_id, m.occurred_at, cast(m.occurred_at as date) as occurred_on, m.amount, m.currency, m.transaction_type,
    m.channel, m.counts_as_revenue, m.source_system, m.source_entity, m.source_key
from movements as m
left join integration.party_identifiers as i on i.id_type = m.id_type and i.id_value = m.id_value;

create or replace table floor.fct_service_cases as
with c as (
    select * from floor.stg_service_cases where _quarantine_reasons is null
    qualify row_number() over (partition by case_id order by updated_at desc, _loaded_at desc, _source_file desc, _row_number desc) = 1
)
select c.case_id, i.party_id, c.channel, c.category, c.is_complaint, c.priority, c.opened_at, c.closed_at,
    c.closed_at is null as is_open,
    case when c.closed_at is not null then date_diff('minute', c.opened_at, c.closed_at) / 60.0 end as resolution_hours,
    coalesce(c.escalated, false) as escalated, c.satisfaction_score, c.status, c.customer_ref_type,
    c.updated_at as last_updated_at
from c
left join integration.party_identifiers as i on i.id_type = c.customer_ref_type and i.id_value = c.customer_ref;

create or replace table floor.holdings_current as
with h as (
    select * from floor.stg_billing_holdings where _quarantine_reasons is null
    qualify row_number() over (partition by holding_id order by updated_at desc, _loaded_at desc, _source_file desc, _row_number desc) = 1
)
select h.holding_id, h.product_code, u.party_id, h.account_number, p.party_id as payer_party_id,
    s.party_id as sponsor_party_id, h.scheme_code, h.acquisition_channel, h.campaign_code, h.start_date, h.end_date,
    h.status = 'active' and h.end_date is null as is_active, h.monthly_fee, h.updated_at
from h
left join integration.party_identifiers as u on u.id_type = 'account_number' and u.id_value = h.account_number
left join integration.party_identifiers as p on p.id_type = 'account_number' and p.id_value = h.payer_account_number
left join integration.party_identifiers as s on s.id_type = 'org_id' and s.id_value = h.sponsor_org_id;

create or replace table floor.dim_customer as
with holdings as (
    select party_id, count(*) as holdings_ever, count(*) filter (where is_active) as active_holdings,
        min(start_date) as customer_since,
        arg_min_null(acquisition_channel, (start_date, holding_id)) as acquisition_channel,
        arg_min_null(campaign_code, (start_date, holding_id)) as acquisition_campaign
    from floor.holdings_current where party_id is not null group by party_id
), revenue as (
    select party_id, max(occurred_on) as last_revenue_on
    from floor.fct_transactions where counts_as_revenue and party_id is not null group by party_id
), rd as (
    select max(occurred_on) as as_of from floor.fct_transactions
), orgs as (
    select from_party_id as party_id, min(to_party_id) as organisation_party_id
    from integration.int_party_relationships where relationship_type = 'employee_of' and is_current group by 1
)
select g.party_id, g.party_type, g.first_name, g.last_name, g.display_name as full_name, g.date_of_birth, g.email,
    g.phone, g.address_line, g.city, g.postcode, g.first_name_source, g.last_name_source, g.email_source,
    g.phone_source, g.address_line_source, hm.household_id, o.organisation_party_id,
    coalesce(h.holdings_ever, 0) > 0 as is_customer,
    case when g.party_type = 'organisation' then 'organisation'
        when coalesce(h.holdings_ever, 0) = 0 and g.registered_record_count > 0 then 'prospect'
        when coalesce(h.holdings_ever, 0) = 0 then 'contact'
        when h.active_holdings = 0 then 'closed'
        when r.last_revenue_on >= rd.as_of - interval 180 day then 'active'
        else 'inactive' end as customer_status,
    h.customer_since, h.acquisition_channel, h.acquisition_campaign, coalesce(h.holdings_ever, 0) as holdings_ever,
    coalesce(h.active_holdings, 0) as active_holdings, r.last_revenue_on, g.source_record_count, g.first_seen_at,
    g.last_updated_at
from integration.int_party_golden as g
cross join rd
left join holdings as h on h.party_id = g.party_id
left join revenue as r on r.party_id = g.party_id
left join orgs as o on o.party_id = g.party_id
left join integration.int_household_members as hm on hm.party_id = g.party_id;
