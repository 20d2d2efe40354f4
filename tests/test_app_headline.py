"""The service representative's headline: tenure, value, open complaints, churn risk."""

from __future__ import annotations

from datetime import date, datetime

from dagster_project.app.headline import build_headline, churn_risk, risk_label


def test_the_issue_example():
    headline = build_headline({"customer_status": "active", "customer_since": date(2019, 5, 2), "value_tier": "platinum",
                               "open_complaints": 2, "lifecycle_stage": "at_risk", "p_alive": 0.8})
    assert headline.text == "Customer since 2019 · Platinum · 2 open complaints · at risk"
    assert (headline.at_risk, headline.valuable, headline.needs_care) == (True, True, True)


def test_not_computed_analytics_leave_their_part_out():
    headline = build_headline({"customer_status": "active", "customer_since": datetime(2022, 10, 20),
                               "open_complaints": 1})
    assert headline.text == "Customer since 2022 · 1 open complaint"
    assert (headline.at_risk, headline.valuable, headline.needs_care) == (False, False, True)


def test_low_p_alive_means_at_risk_when_lifecycle_is_quiet():
    headline = build_headline({"customer_status": "active", "customer_since": date(2020, 1, 1), "value_tier": "gold",
                               "open_complaints": 0, "lifecycle_stage": "active", "p_alive": 0.3})
    assert headline.text == "Customer since 2020 · Gold · no open complaints · at risk"
    assert headline.needs_care  # valuable and at risk, no complaint needed


def test_a_content_customer_needs_no_special_care():
    headline = build_headline({"customer_status": "active", "customer_since": date(2018, 1, 1), "value_tier": "silver",
                               "open_complaints": None, "lifecycle_stage": "active", "p_alive": 0.95})
    assert headline.text == "Customer since 2018 · Silver · no open complaints"
    assert not headline.needs_care


def test_other_statuses():
    assert build_headline({"customer_status": "closed", "customer_since": date(2015, 6, 1),
                           "lifecycle_stage": "attrited"}).text == "Former customer (since 2015) · no open complaints"
    assert build_headline({"customer_status": "inactive", "customer_since": date(2021, 6, 1),
                           "lifecycle_stage": "lapsed"}).text == \
        "Customer since 2021, no recent activity · no open complaints · lapsed"
    assert build_headline({"customer_status": "prospect"}).parts[0] == "Prospect (never held a product)"
    assert build_headline({"customer_status": "contact", "party_type": "unidentified"}).parts[0] == \
        "Contact only (not registered)"
    assert build_headline({"customer_status": "organisation", "party_type": "organisation"}).parts[0] == "Organisation"


def test_churn_risk_and_risk_label():
    assert churn_risk(0.8125) == 0.1875
    assert churn_risk(None) is None
    assert risk_label("at risk", None) == "at risk"  # the audiences' spelling is understood too
    assert risk_label("won_back", 0.49) == "at risk"
    assert risk_label("won_back", 0.5) is None
    assert risk_label(None, None) is None
