"""Page 2: segments and CLV across the whole customer base, with charts."""

from __future__ import annotations

import streamlit as st

from dagster_project.app import queries
from dagster_project.app.database import existing_tables, read_only

NOT_COMPUTED = "not computed yet"
SEGMENT_TITLES = {"rfm_segment": "RFM segment", "lifecycle_stage": "Lifecycle stage",
                  "preferred_channel": "Preferred channel", "next_best_product": "Next best product"}


def render(db_path) -> None:
    st.title("Segments and CLV")
    with read_only(db_path) as con:
        tables = existing_tables(con)
        if "marts.dim_customer" not in tables:
            st.error(f"{db_path} has no marts.dim_customer: run the pipeline first (`make demo`).")
            return
        statuses = queries.status_counts(con)
        st.subheader("Parties by customer status")
        st.caption(" · ".join(f"{row.customer_status}: {row.parties:,}" for row in statuses.itertuples()))
        st.bar_chart(statuses, x="customer_status", y="parties", height=240, sort=False)
        _segments(con, tables)
        _clv(con, tables)


def _segments(con, tables) -> None:
    st.subheader("Segments")
    if "analytics.customer_segments" not in tables:
        st.info(f"Segments: {NOT_COMPUTED} (analytics.customer_segments is not in this copy).")
        return
    columns = st.columns(2)
    for i, (column, title) in enumerate(SEGMENT_TITLES.items()):
        counts = queries.segment_counts(con, column, tables)
        with columns[i % 2]:
            st.markdown(f"**{title}**")
            if counts is None:
                st.write(NOT_COMPUTED)
            else:
                st.bar_chart(counts, x=column, y="parties", height=260, sort=False, horizontal=True)


def _clv(con, tables) -> None:
    st.subheader("Customer lifetime value")
    tiers = queries.clv_by_tier(con, tables)
    if tiers is None:
        st.info(f"CLV: {NOT_COMPUTED} (analytics.customer_clv is not in this copy).")
        return
    left, right = st.columns(2)
    with left:
        st.markdown("**Customers per value tier**")
        st.bar_chart(tiers, x="value_tier", y="customers", height=260, sort=False)
    with right:
        st.markdown("**Average net CLV per value tier**")
        st.bar_chart(tiers, x="value_tier", y="avg_net_clv", height=260, sort=False)
    st.dataframe(tiers, hide_index=True, width="stretch")
    distribution = queries.clv_distribution(con, tables)
    if distribution is not None and len(distribution):
        st.markdown("**Net CLV distribution** (1st to 99th percentile)")
        st.bar_chart(distribution, x="net_clv_band", y="customers", height=260, sort=False)
    risk = queries.risk_by_tier(con, tables)
    if risk is not None and len(risk):
        st.markdown("**Lifecycle stage within each value tier** (valuable customers at risk stand out)")
        st.bar_chart(risk, x="value_tier", y="customers", color="lifecycle_stage", height=280, sort=False)
    top = queries.top_customers(con, tables)
    st.markdown("**Most valuable customers**")
    st.dataframe(top, hide_index=True, width="stretch")
