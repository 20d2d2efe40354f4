"""The golden customer's history (marts.dim_customer_history) on the session's generated world,
compared with the world's truth.

Parties are mapped to true people through integration.party_xref and the truth's record_map
(a party is the person most of its records belong to). The truth knows when each person
married (married_on) and their maiden name; the sources change the surname on their records
when told, so the history must show the maiden name up to that day and the married name from it.
"""

from __future__ import annotations

import duckdb
import pandas as pd
import pytest

from dagster_project.sample_world.lifecycle_scoring import person_of_party_sql

pytestmark = pytest.mark.e2e

GOLDEN_COLUMNS = ["party_type", "first_name", "last_name", "full_name", "date_of_birth", "email", "phone",
                  "address_line", "city", "postcode", "household_id"]


def _query(world, sql: str) -> pd.DataFrame:
    with duckdb.connect(str(world.warehouse), read_only=True) as con:
        return con.execute(sql).df()


@pytest.fixture(scope="module")
def married_people_history(built_world) -> pd.DataFrame:
    """Every period of every party that is one married person, with the truth's names and date."""
    return _query(built_world, f"""
        with party_person as ({person_of_party_sql(built_world.truth)}),
        persons as (select * from read_parquet('{built_world.truth / "persons.parquet"}'))
        select p.person_id, p.maiden_name, p.last_name as true_last_name, cast(p.married_on as date) as married_on,
            h.party_id, h.last_name, h.valid_from, h.valid_to, h.is_current
        from persons as p
        join party_person as pp on pp.person_id = p.person_id
        join marts.dim_customer_history as h on h.party_id = pp.party_id
        where p.married_on is not null
            and p.person_id in (select person_id from party_person group by person_id having count(*) = 1)
        order by h.party_id, h.valid_from
    """)


def _visible_marriages(history: pd.DataFrame) -> pd.DataFrame:
    """Married people the warehouse knew before the marriage by their maiden name and knows now by
    their married name: their sources did report the change."""
    knew_maiden = history[(history.last_name == history.maiden_name)
                          & (history.valid_from < history.married_on)].person_id
    knows_married = history[history.is_current & (history.last_name == history.true_last_name)].person_id
    return history[history.person_id.isin(set(knew_maiden) & set(knows_married))]


def test_every_party_has_exactly_one_current_period_equal_to_dim_customer(built_world):
    history = _query(built_world, "select * from marts.dim_customer_history")
    current = history[history.is_current].set_index("party_id").sort_index()
    customers = _query(built_world, "select * from marts.dim_customer").set_index("party_id").sort_index()
    assert history.groupby("party_id").is_current.sum().eq(1).all()
    assert current.index.equals(customers.index)
    pd.testing.assert_frame_equal(current[GOLDEN_COLUMNS], customers[GOLDEN_COLUMNS], check_dtype=False)
    assert (history.valid_to.isna() == history.is_current).all()
    # periods of a party follow each other without gaps or overlaps
    history = history.sort_values(["party_id", "valid_from"])
    following = history.groupby("party_id").valid_from.shift(-1)
    assert (following.isna() | (following == history.valid_to)).all()
    assert len(history) > len(customers)  # history holds more than the current rows


def test_a_marriage_shows_the_maiden_name_until_the_wedding_and_the_married_name_from_it(married_people_history):
    """Business time: the married name never shows before the wedding, and shows from the day the
    source recorded it. 46 of the 49 visible marriages of the test world switch on the wedding day;
    in the other three a source was told weeks later, or an earlier record carried a typo."""
    visible = _visible_marriages(married_people_history)
    people = visible.person_id.nunique()
    assert people >= 40, people  # 49 on the 10,000-person test world (seed 7)
    on_the_day = 0
    for _, periods in visible.groupby("person_id"):
        wedding_day = periods.married_on.iloc[0]  # midnight of the day
        named = periods.dropna(subset=["last_name"])
        before = named[named.valid_from < wedding_day]
        switched = named[named.last_name == named.true_last_name].valid_from.min()
        assert switched >= wedding_day
        assert before.last_name.iloc[-1] == before.maiden_name.iloc[-1]
        assert (named[named.valid_from >= switched].last_name == named.true_last_name.iloc[0]).all()
        on_the_day += int(switched.normalize() == wedding_day)
    assert on_the_day / people >= 0.9, (on_the_day, people)


def test_as_of_the_day_before_the_wedding_the_customer_base_holds_the_maiden_name(built_world, married_people_history):
    """The README's as-of pattern, on each visible marriage's eve."""
    visible = _visible_marriages(married_people_history)
    eves = visible.drop_duplicates("person_id")[["party_id", "maiden_name", "true_last_name", "married_on"]]
    with duckdb.connect(str(built_world.warehouse), read_only=True) as con:
        found = {}
        for row in eves.itertuples():
            names = con.execute("""
                select last_name from marts.dim_customer_history
                where party_id = ? and valid_from <= ? and (valid_to is null or valid_to > ?)
            """, [row.party_id, row.married_on, row.married_on]).fetchall()
            found[row.party_id] = [name for (name,) in names]
    assert all(len(names) == 1 for names in found.values())
    maiden = sum(found[row.party_id] == [row.maiden_name] for row in eves.itertuples())
    assert maiden / len(eves) >= 0.95, (maiden, len(eves))


def test_households_over_time_end_in_todays_households(built_world):
    current = _query(built_world, "select party_id, household_id from history.hist_household_members where is_current")
    today = _query(built_world, "select party_id, household_id from integration.int_household_members")
    merged = current.merge(today, on="party_id", how="outer", suffixes=("_history", "_today"), indicator=True)
    assert (merged._merge == "both").all()
    assert (merged.household_id_history == merged.household_id_today).all()


def test_customer_base_at_the_last_month_end_counts_todays_individuals_with_a_history(built_world):
    base = _query(built_world, "select * from marts.customer_base_monthly order by month_end")
    assert base.month_end.is_unique and len(base) >= 12
    last = base.iloc[-1]
    individuals = _query(built_world, """
        select count(*) as n from marts.dim_customer_history
        where party_type = 'individual' and is_current
    """).n.iloc[0]
    assert last.individuals == individuals


def _readme_section() -> str:
    from dagster_project.settings import PROJECT_ROOT

    readme = (PROJECT_ROOT / "README.md").read_text(encoding="utf-8")
    return readme.split("## What did we know on date D", 1)[1].split("\n## ", 1)[0]


def test_the_readme_as_of_example_returns_the_individuals_valid_that_day(built_world):
    import re

    sql = re.findall(r"```sql\n(.*?)```", _readme_section(), flags=re.S)[0]
    day = re.findall(r"timestamp '([0-9-]+) 00:00:00'", sql)[0]
    base = _query(built_world, sql)
    assert len(base) > 0 and base.party_id.is_unique
    # the same base, computed another way: each individual's latest period started by that day
    expected = _query(built_world, f"""
        select party_id, last_name, valid_to from (
            select party_id, last_name, valid_to,
                row_number() over (partition by party_id order by valid_from desc) as latest
            from marts.dim_customer_history
            where party_type = 'individual' and valid_from <= timestamp '{day}'
        ) where latest = 1 and (valid_to is null or valid_to > timestamp '{day}')
    """)
    assert sorted(base.party_id) == sorted(expected.party_id)
    current = _query(built_world, "select count(*) as n from marts.dim_customer where party_type = 'individual'").n.iloc[0]
    assert len(base) < current  # the sample world's customers keep arriving after 1 June 2026
