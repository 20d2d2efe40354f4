"""People's match decisions (a CSV that outlives the warehouse) and the queue of uncertain pairs."""

from datetime import datetime, timedelta, timezone

import duckdb
import pytest

from dagster_project.cli import main
from dagster_project.identity.review import (DECISION_COLUMNS, load_decisions, read_decisions, record_decision,
                                             write_review_queue)
from dagster_project.settings import get_settings

T0 = datetime(2026, 5, 1, 9, 30)


@pytest.fixture(autouse=True)
def _data_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("CRM_CIF_DATA_DIR", str(tmp_path))
    for var in ("CRM_CIF_WAREHOUSE", "CRM_CIF_MATCH_DECISIONS"):
        monkeypatch.delenv(var, raising=False)


def _build_identity_tables(con):
    con.execute("create schema if not exists integration")
    con.execute("""
        create or replace table integration.int_party_records as select * from (values
            ('branch:customers:AC1', 'branch', 'Ada Obi', date '1990-04-01', 'ada@example.com', '+2348031111111', '100001'),
            ('web:users:U1', 'web', 'Ada Obi', date '1990-04-01', 'ada.obi@example.com', null, null),
            ('marketing:leads:L1', 'marketing', 'Ada Obih', null, 'ada@exmaple.com', '+2348031111111', null),
            ('mobile:users:M1', 'mobile', 'Bola Ade', null, 'bola@example.com', '+2348032222222', null),
            ('web:users:U2', 'web', 'Bola Ade', date '1985-02-02', null, null, null)
        ) as t(record_id, source_system, full_name, date_of_birth, email, phone, postcode)
    """)
    con.execute("""
        create or replace table integration.party_xref as select * from (values
            ('branch:customers:AC1', 'PA'), ('web:users:U1', 'PB'), ('marketing:leads:L1', 'PC'),
            ('mobile:users:M1', 'PD'), ('web:users:U2', 'PE')
        ) as t(record_id, party_id)
    """)
    # Splink-style pairs, in either order; probabilities around the review band [0.5, 0.95)
    con.execute("""
        create or replace temp table pairs as select * from (values
            ('web:users:U1', 'branch:customers:AC1', 0.90, 3.2),
            ('branch:customers:AC1', 'marketing:leads:L1', 0.62, 0.7),
            ('mobile:users:M1', 'web:users:U2', 0.50, 0.0),
            ('marketing:leads:L1', 'web:users:U1', 0.95, 4.2),
            ('mobile:users:M1', 'branch:customers:AC1', 0.10, -3.2)
        ) as t(record_id_l, record_id_r, match_probability, match_weight)
    """)


@pytest.fixture()
def con():
    con = duckdb.connect()
    _build_identity_tables(con)
    yield con
    con.close()


def test_decisions_round_trip_normalised(tmp_path):
    path = tmp_path / "identity" / "match_decisions.csv"
    record_decision(path, "web:users:U1", "branch:customers:AC1", "link", "amara", note="same DOB, same name",
                    decided_at=T0)
    record_decision(path, "mobile:users:M1", "web:users:U2", "no-link", "amara", decided_at=T0)
    assert path.read_text().splitlines()[0] == ",".join(DECISION_COLUMNS)
    decisions = read_decisions(path)
    assert list(decisions) == [("branch:customers:AC1", "web:users:U1"), ("mobile:users:M1", "web:users:U2")]
    first = decisions[("branch:customers:AC1", "web:users:U1")]
    assert (first.decision, first.decided_by, first.decided_at, first.note) == ("link", "amara", T0, "same DOB, same name")
    assert decisions[("mobile:users:M1", "web:users:U2")].decision == "no_link"


def test_the_latest_decision_per_pair_wins(tmp_path, con):
    path = tmp_path / "d.csv"
    record_decision(path, "a:1", "b:1", "link", "amara", decided_at=T0 + timedelta(hours=1))
    record_decision(path, "b:1", "a:1", "no_link", "tunde", decided_at=T0)  # older, written later
    record_decision(path, "c:1", "d:1", "link", "amara", decided_at=T0)
    record_decision(path, "d:1", "c:1", "no_link", "tunde", decided_at=T0)  # same time: the later line wins
    assert load_decisions(con, path) == 2
    rows = con.execute("select record_id_l, record_id_r, decision, decided_by from integration.match_decisions "
                       "order by all").fetchall()
    assert rows == [("a:1", "b:1", "link", "amara"), ("c:1", "d:1", "no_link", "tunde")]


def test_timezone_aware_times_are_stored_as_utc(tmp_path):
    path = tmp_path / "d.csv"
    record_decision(path, "a:1", "b:1", "link", "amara",
                    decided_at=datetime(2026, 5, 1, 10, 30, tzinfo=timezone(timedelta(hours=1))))
    assert read_decisions(path)[("a:1", "b:1")].decided_at == T0


def test_a_missing_file_gives_an_empty_typed_table(tmp_path, con):
    assert load_decisions(con, tmp_path / "none.csv") == 0
    types = dict(con.execute("select column_name, data_type from information_schema.columns "
                             "where table_name = 'match_decisions'").fetchall())
    assert types == {"record_id_l": "VARCHAR", "record_id_r": "VARCHAR", "decision": "VARCHAR",
                     "decided_by": "VARCHAR", "decided_at": "TIMESTAMP", "note": "VARCHAR"}


@pytest.mark.parametrize("bad_line, message", [
    ("a:1,b:1,maybe,amara,2026-05-01T09:30:00,", "decision must be 'link' or 'no_link', got 'maybe'"),
    ("a:1,b:1,link,amara,yesterday,", "decided_at is not an ISO timestamp: 'yesterday'"),
    ("a:1,b:1,link,amara", "expected 6 fields, found 4"),
    ("a:1,a:1,link,amara,2026-05-01T09:30:00,", "a record cannot be matched with itself"),
    ("a:1,b:1,link,,2026-05-01T09:30:00,", "decided_by is empty"),
])
def test_a_malformed_line_is_named(tmp_path, con, bad_line, message):
    path = tmp_path / "d.csv"
    record_decision(path, "a:1", "c:1", "link", "amara", decided_at=T0)
    with path.open("a") as handle:
        handle.write("\n" + bad_line + "\n")  # line 3 is blank and skipped; the bad one is line 4
    with pytest.raises(ValueError) as error:
        load_decisions(con, path)
    assert str(error.value).startswith(f"{path}, line 4: {message}")


def test_a_wrong_header_is_named(tmp_path, con):
    path = tmp_path / "d.csv"
    path.write_text("left,right,decision\n")
    with pytest.raises(ValueError, match="line 1: the header must be record_id_l,record_id_r,decision"):
        load_decisions(con, path)


def test_record_decision_validates_and_appends_after_a_hand_edit(tmp_path):
    path = tmp_path / "d.csv"
    with pytest.raises(ValueError, match="decision must be"):
        record_decision(path, "a:1", "b:1", "merge", "amara")
    with pytest.raises(ValueError, match="decided_by is required"):
        record_decision(path, "a:1", "b:1", "link", " ")
    assert not path.exists()
    path.write_text(",".join(DECISION_COLUMNS) + "\na:1,b:1,link,amara,2026-05-01T09:30:00,typed by hand")  # no newline
    record_decision(path, "c:1", "d:1", "no_link", "tunde", decided_at=T0)
    assert list(read_decisions(path)) == [("a:1", "b:1"), ("c:1", "d:1")]


def test_queue_holds_the_band_minus_decided_pairs(tmp_path, con):
    path = tmp_path / "d.csv"
    record_decision(path, "web:users:U2", "mobile:users:M1", "no_link", "amara", decided_at=T0)
    load_decisions(con, path)
    assert write_review_queue(con, "pairs") == 2
    rows = con.execute("select record_id_l, record_id_r, match_probability, party_id_l, party_id_r, "
                       "full_name_l, full_name_r, source_system_l, source_system_r from integration.match_review").fetchall()
    # 0.95 is at the upper bound (excluded), 0.10 below the band, 0.50 decided by a person.
    assert rows == [
        ("branch:customers:AC1", "web:users:U1", 0.90, "PA", "PB", "Ada Obi", "Ada Obi", "branch", "web"),
        ("branch:customers:AC1", "marketing:leads:L1", 0.62, "PA", "PC", "Ada Obi", "Ada Obih", "branch", "marketing"),
    ]
    columns = [r[0] for r in con.execute("describe integration.match_review").fetchall()]
    assert columns[:6] == ["record_id_l", "record_id_r", "match_probability", "match_weight", "party_id_l", "party_id_r"]
    assert {f"{a}_{s}" for a in ("date_of_birth", "email", "phone", "postcode") for s in "lr"} <= set(columns)


def test_queue_band_is_configurable_and_works_without_decisions_or_xref(con):
    con.execute("drop table integration.party_xref")
    assert write_review_queue(con, "pairs", lower=0.5, upper=0.96) == 4
    assert con.execute("select count(*) from integration.match_review where party_id_l is not null").fetchall() == [(0,)]
    assert con.execute("select min(match_probability) from integration.match_review").fetchall() == [(0.5,)]
    with pytest.raises(ValueError, match="lower <= upper"):
        write_review_queue(con, "pairs", lower=0.9, upper=0.5)


def _warehouse(tmp_path, with_queue: bool = True):
    with duckdb.connect(str(tmp_path / "warehouse.duckdb")) as con:
        _build_identity_tables(con)
        if with_queue:
            load_decisions(con, get_settings().match_decisions_path)
            write_review_queue(con, "pairs")


def test_cli_list_without_warehouse_or_queue(tmp_path, capsys):
    assert main(["review", "list"]) == 1
    assert "No warehouse at" in capsys.readouterr().err
    _warehouse(tmp_path, with_queue=False)
    assert main(["review", "list"]) == 1
    assert "No review queue yet" in capsys.readouterr().err


def test_cli_list_shows_pairs_side_by_side(tmp_path, capsys):
    _warehouse(tmp_path)
    assert main(["review", "list", "--limit", "1"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("3 pair(s) await review; showing the 1 most likely.")
    assert "#1  probability 0.900  weight 3.20" in out
    assert "branch:customers:AC1" in out and "web:users:U1" in out and "marketing:leads:L1" not in out
    assert "crm-cif review decide 'branch:customers:AC1' 'web:users:U1' link|no-link --by NAME" in out


def test_cli_decide_then_list_hides_the_pair(tmp_path, capsys):
    _warehouse(tmp_path)
    assert main(["review", "decide", "web:users:U1", "branch:customers:AC1", "link", "--by", "amara",
                 "--note", "same person"]) == 0
    assert "takes effect on the next `crm-cif run`" in capsys.readouterr().out
    decision = read_decisions(get_settings().match_decisions_path)[("branch:customers:AC1", "web:users:U1")]
    assert (decision.decision, decision.decided_by, decision.note) == ("link", "amara", "same person")
    assert main(["review", "list"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("2 pair(s) await review; 1 more decided since the last run")
    assert "#1  probability 0.620" in out


def test_cli_decide_rejects_bad_input(tmp_path, capsys):
    _warehouse(tmp_path)
    assert main(["review", "decide", "web:users:U1", "web:users:NOPE", "link", "--by", "amara"]) == 2
    assert "unknown record id(s) (not in integration.int_party_records): web:users:NOPE" in capsys.readouterr().err
    assert main(["review", "decide", "web:users:U1", "web:users:U1", "no-link", "--by", "amara"]) == 2
    assert "cannot be matched with itself" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_info:
        main(["review", "decide", "web:users:U1", "web:users:U2", "maybe", "--by", "amara"])
    assert exit_info.value.code == 2
    assert not get_settings().match_decisions_path.exists()


def test_cli_reports_a_broken_decisions_file(tmp_path, capsys):
    _warehouse(tmp_path)
    path = get_settings().match_decisions_path
    path.parent.mkdir(parents=True)
    path.write_text(",".join(DECISION_COLUMNS) + "\na:1,b:1,perhaps,amara,2026-05-01T09:30:00,\n")
    assert main(["review", "list"]) == 2
    assert f"{path}, line 2: decision must be" in capsys.readouterr().err
    assert main(["review", "decide", "web:users:U1", "web:users:U2", "link", "--by", "amara"]) == 2
    assert "line 2" in capsys.readouterr().err


def test_cli_decide_without_a_warehouse_records_anyway(tmp_path, capsys):
    assert main(["review", "decide", "x:1", "y:1", "no-link", "--by", "amara"]) == 0
    assert read_decisions(tmp_path / "identity" / "match_decisions.csv")[("x:1", "y:1")].decision == "no_link"
