"""Every personal mart column is classified once (dbt meta), and the policy covers every kind used."""

from pathlib import Path

import pytest
import yaml

from dagster_project.analytics.audiences import AUDIENCES
from dagster_project.serving.classification import (PII_LEVELS, from_registry, load_classification, looks_personal)
from dagster_project.serving.policy import ACTIONS, load_policy
from dagster_project.settings import DBT_PROJECT_DIR

# every served dbt model: the marts and the history (SCD2) models
MART_YMLS = sorted(path for folder in ("marts", "history") for path in (DBT_PROJECT_DIR / "models" / folder).rglob("_*.yml"))


def _mart_columns():
    for path in MART_YMLS:
        for model in yaml.safe_load(path.read_text(encoding="utf-8")).get("models", []):
            for column in model.get("columns", []):
                meta = {**column.get("meta", {}), **column.get("config", {}).get("meta", {})}
                yield path.name, model["name"], column["name"], meta


@pytest.mark.parametrize("name,expected", [
    ("first_name", True), ("full_name", True), ("email", True), ("phone", True), ("address_line", True),
    ("postcode", True), ("date_of_birth", True), ("contact_value", True), ("birthday_on", True),
    ("household_name", True), ("from_party_name", True), ("account_manager_name", True), ("name", True),
    ("email_source", False), ("consent_email", False), ("first_mobile_at", False), ("contact_count", False),
    ("product_name", False), ("org_name", False), ("party_id", False), ("city", False), ("channel", False),
])
def test_looks_personal(name, expected):
    assert looks_personal(name) is expected


def test_every_personal_looking_mart_column_is_classified():
    assert MART_YMLS, "no marts ymls found"
    unclassified = [f"{file}:{model}.{column}" for file, model, column, meta in _mart_columns()
                    if looks_personal(column) and "pii" not in meta]
    assert unclassified == []


def test_mart_classifications_are_well_formed():
    policy_kinds = set(next(iter(load_policy().values())).kinds)
    classified = [(m, c, meta) for _, m, c, meta in _mart_columns() if "pii" in meta]
    assert len(classified) >= 30
    for model, column, meta in classified:
        assert meta["pii"] in PII_LEVELS, (model, column)
        if meta["pii"] != "none":
            assert meta.get("pii_kind") in policy_kinds, (model, column, meta)


def test_known_personal_mart_columns_carry_their_kind():
    classes = load_classification()
    expected = {("dim_customer", "email"): "email", ("dim_customer", "phone"): "phone",
                ("dim_customer", "full_name"): "name", ("dim_customer", "date_of_birth"): "date_of_birth",
                ("customer_360", "address_line"): "address", ("dim_household", "household_name"): "name",
                ("dim_organisation", "account_manager_name"): "name",
                ("fct_party_relationships", "source_key"): "address"}  # the household address key
    for (table, column), kind in expected.items():
        assert classes.column("marts", table, column).kind == kind, (table, column)
    assert not classes.column("marts", "dim_customer", "email_source").is_personal


def test_audience_tables_personal_columns_are_classified_by_the_registry():
    from dagster_project.serving.classification import Classification

    registry = Classification(patterns=from_registry())
    for audience in AUDIENCES:
        table = f"audience_{audience.name}"
        for column in audience.columns:
            if looks_personal(column):
                assert registry.column("analytics", table, column) is not None, (table, column)
    assert registry.column("analytics", "audience_win_back", "contact_value").kind == "contact_value"
    assert registry.column("analytics", "audience_birthday_this_week", "birthday_on").kind == "birthday"
    assert registry.column("analytics", "customer_segments", "name").kind == "name"  # any analytics table
    assert not registry.column("analytics", "key_accounts", "name").is_personal  # organisations only
    assert not registry.column("analytics", "audience_key_account_review", "name").is_personal
    assert registry.column("analytics", "audience_key_account_review", "contact_value").kind == "contact_value"
    assert registry.column("marts", "dim_customer", "name") is None  # the registry is for Python tables


def test_policy_levels_name_every_kind_with_known_actions():
    policy = load_policy()
    assert set(policy) == {"analyst", "restricted"}
    registry_kinds = {c.kind for _, columns in from_registry() for c in columns.values() if c.is_personal}
    for level in policy.values():
        assert registry_kinds <= set(level.kinds)
        assert set(level.kinds.values()) <= set(ACTIONS)
    assert set(policy["restricted"].kinds.values()) == {"keep"}
    assert policy["analyst"].unclassified_personal == "drop"
    for kind in ("name", "email", "phone", "address", "contact_value"):
        assert policy["analyst"].action(kind) == "pseudonymise"


@pytest.mark.parametrize("body,error", [
    ("levels:\n  a:\n    kinds: {email: scramble}\n", "unknown action"),
    ("levels:\n  a:\n    kinds: {email: generalise}\n", "generalise is defined for"),
    ("levels:\n  a:\n    kinds: {email: keep}\n  b:\n    kinds: {phone: keep}\n", "same pii kinds"),
])
def test_policy_file_is_checked(tmp_path: Path, body, error):
    path = tmp_path / "policy.yml"
    path.write_text(body)
    with pytest.raises(ValueError, match=error):
        load_policy(path)
