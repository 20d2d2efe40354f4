"""Sample-world generator: determinism, scale, file contracts and an independent check of the
ground truth against the staging rules of docs (COMMON rules re-implemented here in plain
Python, so the generator's own bookkeeping is not trusted)."""

from __future__ import annotations

import csv
import hashlib
import json
import re
from collections import Counter
from datetime import date, datetime, timedelta
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from dagster_project.sample_world import WorldConfig, generate_world
from dagster_project.settings import PROJECT_ROOT
from dagster_project.sources import ENTITIES, Entity

START, END = date(2025, 1, 1), date(2025, 12, 31)
AMOUNTS = {"amount", "cost", "old_limit", "requested_limit", "new_limit", "monthly_fee", "target_value", "proposed_value"}
DOB = {"date_of_birth"}


def _seed_codes(name: str, col: str) -> set[str]:
    with open(PROJECT_ROOT / "seeds" / f"{name}.csv", encoding="utf-8") as fh:
        return {r[col] for r in csv.DictReader(fh)}


PRODUCTS = _seed_codes("products", "product_code")
BRANCHES = _seed_codes("branches", "branch_code")
CHANNELS = _seed_codes("channels", "channel_code")


def _hashes(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("world")
    generate_world(WorldConfig(people=800, seed=7, start=START, end=END, out=out, bad_row_rate=0.04))
    return out


# --------------------------------------------------------------------- reference checker

def _rows(e: Entity, path: Path):
    """Yield (line_number, row dict or None when unparseable) exactly like raw loading."""
    if e.format == "parquet":
        t = pq.read_table(path)
        assert t.column_names == e.column_names, path
        for i, r in enumerate(t.to_pylist(), start=1):
            yield i, r
        return
    raw = path.read_bytes()
    if e.encoding == "utf-8-sig":
        assert raw.startswith(b"\xef\xbb\xbf"), f"{path} lacks its BOM"
    text = raw.decode(e.encoding)
    lines = text.split("\n")
    assert lines[-1] == "", f"{path} must end with a newline"
    lines = lines[:-1]
    if e.format == "csv":
        assert lines[0] == e.delimiter.join(e.column_names), f"{path} header"
        for i, line in enumerate(lines[1:], start=2):
            parts = line.split(e.delimiter)
            yield i, dict(zip(e.column_names, parts)) if len(parts) == len(e.columns) else None
    else:
        for i, line in enumerate(lines, start=1):
            try:
                obj = json.loads(line)
            except json.JSONDecodeError:
                yield i, None
                continue
            assert list(obj) == e.column_names, path
            yield i, obj


def _fmt(e: Entity, kind: str) -> str:
    if kind == "date":
        return "%d/%m/%Y" if e.date_format == "DD/MM/YYYY" else "%Y-%m-%d"
    return "%d/%m/%Y %H:%M" if e.timestamp_format == "DD/MM/YYYY HH:MM" else "%Y-%m-%dT%H:%M:%S"


def _reasons(e: Entity, row: dict, today: date) -> tuple[list[str], tuple]:
    reasons: list[str] = []
    val = {k: (v.strip() if isinstance(v, str) else v) or None for k, v in row.items()}
    typed: dict = {}
    if any(val[k] is None for k in e.key):
        reasons.append("MISSING_KEY")
    for c in e.columns:
        v = val[c.name]
        if v is None:
            continue
        if c.type in ("date", "timestamp"):
            try:
                d = datetime.strptime(v, _fmt(e, c.type))
            except ValueError:
                reasons.append("BAD_DATE" if c.type == "date" else "BAD_TIMESTAMP")
                continue
            typed[c.name] = d
            if d.date() < date(1900, 1, 1) or (c.name in DOB and d.date() > today):
                reasons.append("IMPOSSIBLE_DATE")
            elif c.name not in DOB and d.date() > today + timedelta(days=1):
                reasons.append("FUTURE_DATE")
        elif c.type == "decimal":
            if not re.fullmatch(r"-?\d+(\.\d+)?", v):
                reasons.append("BAD_NUMBER")
                continue
            typed[c.name] = float(v)
        elif c.type == "integer" and not re.fullmatch(r"-?\d+", v):
            reasons.append("BAD_INTEGER")
        elif c.type == "boolean" and v.lower() not in ("true", "false"):
            reasons.append("BAD_BOOLEAN")
        elif c.accepted_values and v.lower() not in c.accepted_values:
            reasons.append("UNKNOWN_CODE")
        elif not c.accepted_values and (
            (c.name == "product_code" and v not in PRODUCTS)
            or (c.name == "branch_code" and v not in BRANCHES)
            or (c.name == "channel" and v.lower() not in CHANNELS)
        ):
            reasons.append("UNKNOWN_CODE")
    for c in AMOUNTS & set(typed):
        amount = typed[c]
        if e.table == "billing__transactions" and c == "amount":
            kind = (val["txn_type"] or "").lower()
            if (kind == "refund" and amount >= 0) or (kind != "refund" and amount <= 0):
                reasons.append("NEGATIVE_AMOUNT")
        elif amount < 0:
            reasons.append("NEGATIVE_AMOUNT")
    key = tuple(typed.get(k, val[k]) for k in e.key)
    return reasons, key


def check_entity(landing: Path, e: Entity, today: date) -> tuple[Counter, set]:
    """Count lines and outcomes of an entity's files and list every problem line."""
    counts: Counter = Counter()
    problems: set = set()
    seen: set = set()
    for path in sorted((landing / e.source).glob(f"{e.name}_*.{e.extension}")):
        assert e.file_pattern.match(path.name), path
        rel = f"{e.source}/{path.name}"
        for line, row in _rows(e, path):
            counts["delivered"] += 1
            if row is None:
                counts["rejected"] += 1
                problems.add((rel, line, "rejected", "MALFORMED"))
                continue
            reasons, key = _reasons(e, row, today)
            if not reasons and key in seen:
                reasons = ["DUPLICATE_KEY"]
            if reasons:
                counts["quarantined"] += 1
                problems.add((rel, line, "quarantined", ",".join(reasons)))
            else:
                seen.add(key)
    return counts, problems


# ------------------------------------------------------------------------------- tests

def test_every_line_is_accounted_for_by_the_truth(world: Path) -> None:
    """An independent re-implementation of the staging rules finds exactly the bad rows the
    truth lists (same file, line, outcome and single reason) and nothing else."""
    bad = pq.read_table(world / "truth" / "bad_rows.parquet").to_pylist()
    expected = pq.read_table(world / "truth" / "expected_counts.parquet").to_pylist()
    by_entity = {(r["source"], r["entity"]): r for r in expected}
    assert set(by_entity) == {(e.source, e.name) for e in ENTITIES}
    kinds = Counter()
    for e in ENTITIES:
        counts, problems = check_entity(world / "landing", e, END)
        truth = {(b["source_file"], b["line_number"], b["expected"], b["reason"])
                 for b in bad if (b["source"], b["entity"]) == (e.source, e.name)}
        assert problems == truth, e.table
        row = by_entity[(e.source, e.name)]
        assert row["delivered_rows"] == counts["delivered"] > 0, e.table
        assert row["expected_rejected"] == counts["rejected"]
        assert row["expected_quarantined"] == counts["quarantined"]
        assert row["expected_accepted"] == counts["delivered"] - counts["rejected"] - counts["quarantined"]
        kinds.update(p[3] for p in problems)
    assert set(kinds) == {"MALFORMED", "BAD_DATE", "BAD_TIMESTAMP", "NEGATIVE_AMOUNT", "UNKNOWN_CODE",
                          "MISSING_KEY", "DUPLICATE_KEY"}


def test_files_follow_the_registry(world: Path) -> None:
    landing = world / "landing"
    for e in ENTITIES:
        files = sorted((landing / e.source).glob(f"{e.name}_*"))
        assert files, e.table
        days = [e.file_pattern.match(f.name).group(1) for f in files]
        assert all(START.strftime("%Y%m%d") <= d <= END.strftime("%Y%m%d") for d in days)
    latin = (landing / "branch").glob("customers_*.csv")
    assert any("\u00e9" in f.read_bytes().decode("latin-1") for f in latin), "accented names in Latin-1"
    with pytest.raises(UnicodeDecodeError):
        for f in (landing / "branch").glob("customers_*.csv"):
            f.read_bytes().decode("utf-8")
    assert sorted((landing / "sales").glob("schemes_*.csv")).__len__() == 1  # full extract, sent once


def test_same_seed_same_bytes_other_seed_other_bytes(tmp_path: Path) -> None:
    cfg = dict(people=300, start=START, end=date(2025, 3, 31))
    generate_world(WorldConfig(seed=1, out=tmp_path / "a", **cfg))
    generate_world(WorldConfig(seed=1, out=tmp_path / "b", **cfg))
    a, b = _hashes(tmp_path / "a"), _hashes(tmp_path / "b")
    assert a == b and len(a) > 100
    generate_world(WorldConfig(seed=1, out=tmp_path / "a", **cfg))  # re-run into the same folder
    assert _hashes(tmp_path / "a") == a
    generate_world(WorldConfig(seed=2, out=tmp_path / "c", **cfg))
    c = _hashes(tmp_path / "c")
    assert sum(c.get(k) != v for k, v in a.items()) > len(a) // 2


def test_scale_follows_people(tmp_path: Path) -> None:
    cfg = dict(seed=3, start=START, end=date(2025, 6, 30), bad_row_rate=0.0)
    small = generate_world(WorldConfig(people=400, out=tmp_path / "s", **cfg))
    large = generate_world(WorldConfig(people=1600, out=tmp_path / "l", **cfg))
    assert pq.read_metadata(tmp_path / "l" / "truth" / "persons.parquet").num_rows == 1600
    assert pq.read_metadata(tmp_path / "s" / "truth" / "persons.parquet").num_rows == 400
    assert 3.0 < large.total_rows / small.total_rows < 5.3
    assert small.bad_rows == 0 and large.bad_rows == 0


def test_record_map_points_at_delivered_records(world: Path) -> None:
    rm = pq.read_table(world / "truth" / "record_map.parquet").to_pylist()
    persons = {r["person_id"]: r for r in pq.read_table(world / "truth" / "persons.parquet").to_pylist()}
    keys = {"branch": ("customers", "account_number"), "web": ("users", "user_id"), "mobile": ("users", "app_user_id"),
            "marketing": ("leads", "lead_id"), "sales": ("contacts", "contact_id")}
    seen = {}
    for src, (ent, col) in keys.items():
        e = next(x for x in ENTITIES if (x.source, x.name) == (src, ent))
        vals = set()
        for path in (world / "landing" / src).glob(f"{ent}_*"):
            vals |= {r[col] for _, r in _rows(e, path) if r}
        seen[src] = vals
    by_source = Counter(r["source"] for r in rm)
    assert set(by_source) == set(keys)
    for r in rm:
        assert r["record_key"] in seen[r["source"]]
        assert r["person_id"] in persons
    # customers in the branch file are exactly the true customers
    branch_people = {r["person_id"] for r in rm if r["source"] == "branch"}
    assert branch_people == {p for p, r in persons.items() if r["is_customer"]}
    # the same person registered twice in one source happens, but rarely
    web = Counter(r["person_id"] for r in rm if r["source"] == "web")
    assert 0 < sum(v > 1 for v in web.values()) < 0.1 * len(web)


def _norm_phone(v: str | None) -> str | None:
    if not v:
        return None
    d = re.sub(r"\D", "", v)
    if d.startswith("0"):
        d = "234" + d[1:]
    return "+" + d


def test_identity_is_mostly_resolvable_by_exact_email_or_phone(world: Path) -> None:
    """Most party records carry the true person's email or phone in some format (normalised
    exactly as staging does); typos and changed details are a minority."""
    persons = {r["person_id"]: r for r in pq.read_table(world / "truth" / "persons.parquet").to_pylist()}
    rm = {(r["source"], r["record_key"]): r["person_id"] for r in pq.read_table(world / "truth" / "record_map.parquet").to_pylist()}
    hits = total = 0
    formats = Counter()
    for e in ENTITIES:
        if e.table not in ("web__users", "mobile__users", "marketing__leads", "branch__customers"):
            continue
        key = e.key[0]
        for path in sorted((world / "landing" / e.source).glob(f"{e.name}_*")):
            for _, r in _rows(e, path):
                if not r or (e.source, r[key]) not in rm:
                    continue
                p = persons[rm[(e.source, r[key])]]
                emails = {x for x in (p["email"], p["first_email"]) if x}
                phones = {p["phone"], p["first_phone"]}
                email = (r.get("email") or "").strip().lower()
                phone = _norm_phone(r.get("phone"))
                if r.get("phone"):
                    formats[re.sub(r"\d", "9", r["phone"])] += 1
                total += 1
                hits += email in emails or phone in phones
    assert hits / total > 0.95
    assert len(formats) >= 6  # +234..., +234 803 ..., 0803..., 0803-..., 234803..., (0803) ...


def test_world_contains_the_crm_situations(world: Path) -> None:
    truth = world / "truth"
    persons = pq.read_table(truth / "persons.parquet").to_pandas()
    events = pq.read_table(truth / "lifecycle_events.parquet").to_pandas()
    assert set(events.event_type) == {"lead_captured", "became_customer", "lapsed", "attrited", "won_back"}
    assert 0.45 < persons.is_customer.mean() < 0.85
    prospects = persons[~persons.is_customer]
    assert prospects.lead_captured_on.notna().mean() > 0.9  # prospects are known as leads
    assert (persons.became_customer_on.dropna() <= END).all()
    converted = persons[persons.acquisition_campaign.notna()]  # leads converted by a campaign
    assert len(converted) > 0 and (converted.became_customer_on > converted.lead_captured_on).all()
    assert (converted.acquisition_campaign == converted.lead_campaign).all()
    assert persons.attrited_on.notna().any() and persons.won_back_on.notna().any()
    assert (persons.won_back_on.dropna() > persons.attrited_on[persons.won_back_on.notna()]).all()
    assert persons.married_on.notna().any()
    assert (persons.date_of_birth >= date(1930, 1, 1)).all() and (persons.date_of_birth <= date(2008, 12, 31)).all()
    assert persons.email.dropna().is_unique and persons.phone.dropna().is_unique
    # households share an address; organisations have contacts and an account manager
    hh = pq.read_table(truth / "households.parquet").to_pandas()
    assert (hh["size"] >= 2).any()
    multi = persons.groupby("household_id").address_line.nunique()
    assert (multi == 1).all()
    orgs = pq.read_table(truth / "organisations.parquet").to_pandas()
    assert orgs.contact_person_ids.map(len).min() >= 1 and orgs.account_manager_id.notna().all()
    # employer schemes: every sponsored holding opens on the employer's move day
    bad = {(b["source_file"], b["line_number"]) for b in pq.read_table(truth / "bad_rows.parquet").to_pylist()}
    sponsored = []
    for f in sorted((world / "landing" / "billing").glob("holdings_*.parquet")):
        t = pq.read_table(f).to_pandas()
        t["_good"] = [(f"billing/{f.name}", i) not in bad for i in range(1, len(t) + 1)]
        sponsored.append(t[t._good & t.sponsor_org_id.notna() & (t.sponsor_org_id != "")])
    import pandas as pd
    sp = pd.concat(sponsored)
    assert len(sp) > 0
    moved = dict(zip(orgs.org_id, orgs.staff_moved_on.astype(str)))
    assert all(row.start_date == moved[row.sponsor_org_id] for row in sp.itertuples())
    # bill payers who are not the user, scheme members
    payers = [pq.read_table(f, columns=["payer_account_number", "scheme_code"]).to_pandas()
              for f in (world / "landing" / "billing").glob("holdings_*.parquet")]
    payers = pd.concat(payers)
    assert payers.payer_account_number.notna().any() and payers.scheme_code.notna().any()


def test_lines_are_large_strings_with_exact_text() -> None:
    """An entity's lines use 64-bit offsets (four years of a million people's web sessions are
    2.4 GB, past a plain string array's 2 GiB) and read exactly as before: CSV joined by the
    entity's delimiter, JSON lines with nulls, a malformed row cut short."""
    import dataclasses

    import pyarrow as pa

    from dagster_project.sample_world.writer import _lines

    by_name = {(e.source, e.name): e for e in ENTITIES}
    csv_entity = dataclasses.replace(by_name[("branch", "customers")], columns=by_name[("branch", "customers")].columns[:3])
    json_entity = dataclasses.replace(by_name[("web", "users")], columns=by_name[("web", "users")].columns[:2])
    a, b, c = csv_entity.column_names
    lines = _lines(csv_entity, {a: pa.array(["1", "2"]), b: pa.array(["Mr", None]), c: pa.array(["Ann", "Bo"])}, [])
    assert lines.type == pa.large_string()
    assert lines.to_pylist() == ["1;Mr;Ann\n", "2;;Bo\n"]
    x, y = json_entity.column_names
    lines = _lines(json_entity, {x: pa.array(["u1", "u2"]), y: pa.array([None, "bob"])}, [1])
    assert lines.type == pa.large_string()
    whole = f'{{"{x}": "u2", "{y}": "bob"}}'
    assert lines.to_pylist() == [f'{{"{x}": "u1", "{y}": null}}\n', whole[:len(whole) // 2] + "\n"]
