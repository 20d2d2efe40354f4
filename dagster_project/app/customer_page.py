"""Page 1: find the caller, then see the whole customer on one screen."""

from __future__ import annotations

from datetime import date, datetime

import pandas as pd
import streamlit as st

from dagster_project.app import queries
from dagster_project.app.database import existing_tables, read_only
from dagster_project.app.headline import build_headline, churn_risk
from dagster_project.app.search_terms import parse_search
from dagster_project.settings import get_settings

NOT_COMPUTED = "not computed yet"


def render(db_path) -> None:
    settings = get_settings()
    st.title("Customer 360")
    text = st.text_input("Search a customer by name, email, phone, account number or party id", key="search",
                         placeholder="e.g. Ada Obi · ada@example.com · 0803 123 4567")
    with read_only(db_path) as con:
        tables = existing_tables(con)
        if "marts.dim_customer" not in tables:
            st.error(f"{db_path} has no marts.dim_customer: run the pipeline first (`make demo`).")
            return
        if text:
            _results(con, tables, text, settings.default_country_code)
        party_id = st.session_state.get("party_id") or st.query_params.get("party")
        if party_id:
            _customer(con, tables, party_id, settings.currency)


def _open(party_id: str) -> None:
    st.session_state["party_id"] = party_id
    st.query_params["party"] = party_id


def _results(con, tables, text: str, country_code: str) -> None:
    term = parse_search(text, country_code)
    if term.kind == "empty":
        return
    found = queries.search_customers(con, term, tables)
    label = {"phone": f"phone {term.value}", "email": f"email {term.value}", "name": f"name “{text.strip()}”",
             "party_id": f"party {term.value}", "identifier": f"identifier {term.value}"}[term.kind]
    if found.empty:
        st.warning(f"No customer found for {label}.")
        return
    more = " (first results only: refine the search)" if len(found) >= queries.SEARCH_LIMIT else ""
    st.caption(f"{len(found)} result(s) for {label}{more}. Open one:")
    for row in found.itertuples(index=False):
        cols = st.columns([3, 3, 2, 2, 2])
        name = "(no name)" if _missing(row.full_name) else row.full_name
        cols[0].button(f"{name} · {row.party_id}", key=f"open_{row.party_id}",
                       on_click=_open, args=(row.party_id,), width="stretch")
        cols[1].text(_text(row.email))
        cols[2].text(_text(row.phone))
        cols[3].text(_text(row.city))
        since = f" since {_year(row.customer_since)}" if _year(row.customer_since) else ""
        cols[4].text(f"{row.customer_status}{since}")
    st.divider()


def _customer(con, tables, party_id: str, currency: str) -> None:
    record = queries.golden_record(con, party_id, tables)
    if record is None:
        st.warning(f"Party {party_id} is not in this copy of the warehouse.")
        return
    segment = queries.latest_row(con, "analytics.customer_segments", party_id, tables)
    clv = queries.latest_row(con, "analytics.customer_clv", party_id, tables)
    headline = build_headline({**record, **(segment or {}), **(clv or {})})

    st.header(_md(record.get("full_name")) or "(no name)", anchor=False)
    st.caption(f"Party {party_id} · {record.get('party_type')} · {record.get('customer_status')}")
    (st.warning if headline.needs_care else st.success)(f"**{_md(headline.text)}**")
    _key_figures(record, clv, currency)

    left, middle, right = st.columns(3)
    with left:
        st.subheader("Golden record")
        st.table(_pairs(record, ("email", "phone", "address_line", "city", "postcode", "date_of_birth",
                                 "acquisition_channel", "acquisition_campaign")))
    with middle:
        st.subheader("Segment")
        if segment is None:
            st.info(f"Segments: {NOT_COMPUTED}.")
        elif not segment:
            st.info("No segment for this party (segments cover individuals).")
        else:
            st.table(_pairs(segment, ("rfm_segment", "lifecycle_stage", "preferred_channel", "next_best_product",
                                      "age_group", "as_of_date")))
    with right:
        st.subheader("Consent")
        consent = {channel: record.get(f"consent_{channel}") for channel in ("email", "sms", "phone", "post")}
        if all(value is None for value in consent.values()):
            st.info("No consent recorded in this copy.")
        else:
            st.table(pd.DataFrame({"channel": list(consent),
                                   "marketing allowed": ["yes" if v else "no" for v in consent.values()]}))

    _household_and_organisation(con, tables, record)
    _products(con, tables, party_id, record)
    _complaints(con, tables, party_id)
    _timeline(con, tables, party_id)
    rels = queries.relationships(con, party_id, tables)
    if rels is not None and len(rels):
        st.subheader("Relationships")
        _show(rels)


def _key_figures(record: dict, clv: dict | None, currency: str) -> None:
    cols = st.columns(5)
    cols[0].metric("Customer since", _year(record.get("customer_since")) or "—")
    cols[1].metric("Revenue to date", _money(record.get("revenue_to_date"), currency))
    if not clv:
        reason = NOT_COMPUTED if clv is None else "no purchase to model yet"
        for col, label in ((cols[2], "Net CLV"), (cols[3], "Churn risk")):
            col.metric(label, "—")
            col.caption(reason)
    else:
        cols[2].metric("Net CLV", _money(clv.get("net_clv"), currency),
                       help=f"CLV {_money(clv.get('clv'), currency)}, value tier {clv.get('value_tier')}")
        risk = churn_risk(clv.get("p_alive"))
        cols[3].metric("Churn risk", "—" if risk is None else f"{risk:.0%}", help="1 − p_alive (BG/NBD)")
    cols[4].metric("Open complaints", int(record.get("open_complaints") or 0))


def _household_and_organisation(con, tables, record: dict) -> None:
    st.subheader("Household and organisation")
    left, right = st.columns(2)
    with left:
        head, members = queries.household(con, record.get("household_id"), tables)
        if head is None:
            st.write("No household recorded." if "marts.dim_household" in tables else f"Households: {NOT_COMPUTED}.")
        else:
            st.markdown(f"**{_md(head.get('household_name'))}** · {head.get('member_count')} member(s) · "
                        f"{_md(head.get('household_status'))}")
            _show(members)
    with right:
        org = queries.organisation(con, record.get("organisation_party_id"), tables)
        if record.get("party_type") == "organisation":
            org = queries.organisation(con, record.get("party_id"), tables)
        if org is None:
            st.write("Not linked to an organisation.")
        else:
            st.markdown(f"**{_md(org.get('org_name'))}** · {_md(org.get('industry'))} · {_md(org.get('city'))}")
            st.table(_pairs(org, ("account_manager_name", "known_employee_count", "current_customer_employee_count",
                                  "sponsored_active_holdings", "is_employer_scheme")))


def _products(con, tables, party_id: str, record: dict) -> None:
    st.subheader("Products")
    if record.get("active_products"):
        st.markdown("Held now: **" + _md(", ".join(record["active_products"].split(","))) + "**")
    holdings = queries.products(con, party_id, tables)
    if holdings is None:
        st.write("Product detail is not in this copy.")
    elif holdings.empty:
        st.write("No product held, ever.")
    else:
        if "is_active" not in holdings.columns:
            st.caption("Billing per product (this copy has no holding detail).")
        _show(holdings)


def _complaints(con, tables, party_id: str) -> None:
    st.subheader("Open complaints")
    cases = queries.service_cases(con, party_id, tables)
    if cases is None:
        st.write("Service cases are not in this copy.")
        return
    open_complaints = cases[(cases["status"] == "open") & cases["is_complaint"]]
    if open_complaints.empty:
        st.write("No open complaint.")
    else:
        _show(open_complaints)
    with st.expander(f"All service cases ({len(cases)})"):
        _show(cases)


def _timeline(con, tables, party_id: str) -> None:
    st.subheader("Timeline across channels and departments")
    events = queries.timeline(con, party_id, tables)
    if events is None:
        st.write("Interactions are not in this copy.")
        return
    if events.empty:
        st.write("No interaction recorded.")
        return
    by_channel = queries.touchpoints_by_channel(con, party_id, tables)
    st.bar_chart(by_channel, x="channel", y="touchpoints", color="department", height=220, horizontal=True)
    left, right = st.columns(2)
    channels = left.multiselect("Channels", sorted(events["channel"].unique()), key="timeline_channels")
    departments = right.multiselect("Departments", sorted(events["department"].unique()), key="timeline_departments")
    shown = events
    if channels:
        shown = shown[shown["channel"].isin(channels)]
    if departments:
        shown = shown[shown["department"].isin(departments)]
    total = int(by_channel["touchpoints"].sum())
    st.caption(f"{len(shown)} of {total} touchpoint(s), newest first"
               + (f" (latest {queries.TIMELINE_LIMIT} only)" if total > queries.TIMELINE_LIMIT else ""))
    _show(shown, height=360)


def _show(frame: pd.DataFrame, **kwargs) -> None:
    """A table where date-only columns (DuckDB dates arrive as midnight timestamps) show as dates."""
    dates = {column: st.column_config.DateColumn(column) for column in frame.columns
             if pd.api.types.is_datetime64_any_dtype(frame[column])
             and (frame[column].dropna().dt.normalize() == frame[column].dropna()).all()}
    st.dataframe(frame, hide_index=True, width="stretch", column_config=dates, **kwargs)


def _pairs(record: dict, fields) -> pd.DataFrame:
    return pd.DataFrame({"field": list(fields), "value": [_text(record.get(f)) for f in fields]})


def _missing(value) -> bool:
    return value is None or (not isinstance(value, str) and bool(pd.isna(value)))


def _md(value) -> str:
    """Data shown inside markdown, with markdown's special characters escaped."""
    text = "" if _missing(value) else str(value)
    return "".join("\\" + ch if ch in "\\`*_{}[]<>()#+-.!|~$" else ch for ch in text)


def _text(value) -> str:
    if _missing(value):
        return "—"
    if isinstance(value, datetime) and value.time() == datetime.min.time():
        return value.date().isoformat()
    if isinstance(value, (date, datetime)):
        return value.isoformat(sep=" ") if isinstance(value, datetime) else value.isoformat()
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def _year(value) -> str | None:
    if value is None or pd.isna(value):
        return None
    return str(value.year) if isinstance(value, (date, datetime)) else None


def _money(value, currency: str) -> str:
    return "—" if value is None else f"{currency} {float(value):,.0f}"
