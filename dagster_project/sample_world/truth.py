"""Ground truth beside the landing folder (never ingested): who is behind every record."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from . import vocab
from .activity import Purchases
from .render import NULL, IdCol, phone_strings
from .world import FIRST, World, address_index, email_index, phone_at, surname_at


def _date(days: np.ndarray) -> pa.Array:
    ok = days != NULL
    return pa.array(np.where(ok, days, 0).astype("datetime64[D]"), mask=~ok)


def _codes(labels, idx: np.ndarray) -> pa.Array:
    ok = idx >= 0
    return pc.take(pa.array(list(labels), pa.string()), pa.array(np.where(ok, idx, 0), mask=~ok))


def person_ids(idx: np.ndarray) -> pa.Array:
    return IdCol("P", idx.astype(np.int64), 7).render(np.arange(len(idx)))


def write_truth(w: World, purchases: Purchases, record_maps: list[tuple[str, str, pa.Table]],
                bad_rows: list[tuple], counts: list[tuple], truth: Path) -> None:
    truth.mkdir(parents=True, exist_ok=True)
    n = w.n
    idx = np.arange(n)
    end = np.full(n, w.end)
    pid = person_ids(idx)
    addr = address_index(w, idx, end)
    npur = np.bincount(purchases.person, minlength=n)
    spend = np.bincount(purchases.person, weights=purchases.cents, minlength=n) / 100
    c = w.campaigns
    hh_ids = IdCol("HH", w.hh.astype(np.int64) + 1, 7).render(idx)
    org_ids = lambda o: IdCol("ORG", np.where(o >= 0, o + 1, NULL), 6).render(np.arange(len(o)))
    is_contact = np.zeros(n, bool)
    is_contact[w.contact_person] = True
    persons = pa.table({
        "person_id": pid,
        "first_name": pc.take(pa.array(FIRST), pa.array(w.first)),
        "last_name": pc.take(pa.array(vocab.SURNAMES), pa.array(surname_at(w, idx, end))),
        "maiden_name": pc.take(pa.array(vocab.SURNAMES), pa.array(w.maiden)),
        "married_on": _date(w.married_day),
        "gender": _codes(("m", "f"), w.gender),
        "date_of_birth": _date(w.dob),
        "email": pc.take(w.emails, pa.array(email_index(w, idx, end), mask=email_index(w, idx, end) < 0)),
        "first_email": w.email_old,
        "phone": phone_strings(phone_at(w, idx, end), np.zeros(n, np.int8)),
        "first_phone": phone_strings(w.phone_old, np.zeros(n, np.int8)),
        "address_line": pc.take(w.addr_lines, pa.array(addr)),
        "city": _codes([x[0] for x in vocab.CITIES], w.addr_city[addr]),
        "postcode": pc.cast(pa.array(w.addr_post[addr]), pa.string()),
        "household_id": hh_ids,
        "employer_org_id": org_ids(w.employer),
        "is_org_contact": pa.array(is_contact),
        "scheme_code": _codes([s[0] for s in vocab.SCHEMES], w.scheme),
        "is_customer": pa.array(w.customer),
        "account_number": IdCol("AC", w.acct, 10).render(idx),
        "became_customer_on": _date(w.became),
        "acquisition_channel": _codes(w.channels, w.acq_channel),
        "acquisition_campaign": _codes(c.code, w.acq_campaign),
        "lead_captured_on": _date(w.lead_day),
        "lead_campaign": _codes(c.code, w.lead_campaign),
        "lapsed_on": _date(w.lapsed),
        "attrited_on": _date(w.attrited),
        "close_reason": _codes(("competitor", "moved", "deceased", "other"), w.close_reason),
        "won_back_on": _date(w.won_back),
        "won_back_campaign": _codes(c.code, w.wb_campaign),
        "uses_web": pa.array(w.web_reg != NULL),
        "uses_app": pa.array(w.app_reg != NULL),
        "uses_branch": pa.array(w.uses_branch & w.customer),
        "caller": pa.array(w.caller),
        "lambda": pa.array(w.lam),
        "p_dropout": pa.array(w.p_drop),
        "mean_spend": pa.array(w.mean_spend),
        "spend_nu": pa.array(w.nu),
        "purchases_in_period": pa.array(npur),
        "purchase_value_in_period": pa.array(np.round(spend, 2)),
    })
    meta = {b"gamma_gamma": f"p={w.gg[0]},q={w.gg[1]},gamma={w.gg[2]}".encode(),
            b"purchase_process": b"BG/NBD: lambda ~ Gamma(shape 1.5, rate 45); p_dropout ~ Beta(0.4, 25); "
                                 b"purchases counted inside the period only"}
    pq.write_table(persons.replace_schema_metadata(meta), truth / "persons.parquet")

    k = w.n_hh
    ha = w.hh_arrays
    moved = ha["move_day"] != NULL
    hidx = np.arange(k)
    members = pa.ListArray.from_arrays(pa.array(np.concatenate([w.hh_first, [n]]).astype(np.int32)), pid)
    households = pa.table({
        "household_id": IdCol("HH", hidx + 1, 7).render(hidx),
        "size": pa.array(np.diff(np.concatenate([w.hh_first, [n]]))),
        "head_person_id": pid.take(pa.array(w.hh_first)),
        "member_person_ids": members,
        "address_line": w.addr_lines.slice(0, k),
        "city": _codes([x[0] for x in vocab.CITIES], ha["city0"]),
        "postcode": pc.cast(pa.array(ha["post0"]), pa.string()),
        "moved_on": _date(ha["move_day"]),
        "new_address_line": pc.if_else(pa.array(moved), w.addr_lines.slice(k, k), pa.scalar(None, pa.string())),
        "new_city": _codes([x[0] for x in vocab.CITIES], np.where(moved, ha["city1"], -1)),
        "new_postcode": pc.if_else(pa.array(moved), pc.cast(pa.array(ha["post1"]), pa.string()), pa.scalar(None, pa.string())),
    })
    pq.write_table(households, truth / "households.parquet")

    o = w.n_org
    oidx = np.arange(o)
    emp = np.flatnonzero(w.employer >= 0)
    emp = emp[np.argsort(w.employer[emp], kind="stable")]
    emp_off = np.concatenate([[0], np.cumsum(np.bincount(w.employer[emp], minlength=o))]).astype(np.int32)
    con = np.argsort(w.contact_org, kind="stable")
    con_off = np.concatenate([[0], np.cumsum(np.bincount(w.contact_org, minlength=o))]).astype(np.int32)
    orgs = pa.table({
        "org_id": org_ids(oidx),
        "name": pa.array(w.org_name),
        "registration_number": IdCol("RC", w.org_regno, 7).render(oidx),
        "industry": pa.array(w.org_industry),
        "city": _codes([x[0] for x in vocab.CITIES], w.org_city),
        "account_manager_id": IdCol("AM", w.org_am + 1, 3).render(oidx),
        "account_manager_changed_to": IdCol("AM", np.where(w.org_am2 >= 0, w.org_am2 + 1, NULL), 3).render(oidx),
        "account_manager_changed_on": _date(np.where(w.org_am2 >= 0, w.org_am2_day, NULL)),
        "is_employer_scheme": pa.array(w.org_scheme),
        "staff_moved_on": _date(np.where(w.org_scheme, w.org_scheme_day, NULL)),
        "is_key_account": pa.array(w.org_key_account),
        "contact_person_ids": pa.ListArray.from_arrays(pa.array(con_off), person_ids(w.contact_person[con])),
        "employee_person_ids": pa.ListArray.from_arrays(pa.array(emp_off), person_ids(emp)),
    })
    pq.write_table(orgs, truth / "organisations.parquet")

    maps = []
    for source, entity, t in record_maps:
        maps.append(pa.table({"source": pa.array([source] * t.num_rows, pa.string()),
                              "entity": pa.array([entity] * t.num_rows, pa.string()),
                              "record_key": t["record_key"],
                              "person_id": person_ids(t["person"].to_numpy())}))
    pq.write_table(pa.concat_tables(maps), truth / "record_map.parquet")

    _lifecycle_events(w, pid, truth)

    pq.write_table(pa.table({
        "source": pa.array([b[0] for b in bad_rows], pa.string()),
        "entity": pa.array([b[1] for b in bad_rows], pa.string()),
        "source_file": pa.array([b[2] for b in bad_rows], pa.string()),
        "line_number": pa.array([b[3] for b in bad_rows], pa.int64()),
        "expected": pa.array([b[4] for b in bad_rows], pa.string()),
        "reason": pa.array([b[5] for b in bad_rows], pa.string()),
    }), truth / "bad_rows.parquet")
    pq.write_table(pa.table({
        "source": pa.array([x[0] for x in counts], pa.string()),
        "entity": pa.array([x[1] for x in counts], pa.string()),
        "files": pa.array([x[2] for x in counts], pa.int64()),
        "delivered_rows": pa.array([x[3] for x in counts], pa.int64()),
        "expected_rejected": pa.array([x[4] for x in counts], pa.int64()),
        "expected_quarantined": pa.array([x[5] for x in counts], pa.int64()),
        "expected_accepted": pa.array([x[3] - x[4] - x[5] for x in counts], pa.int64()),
    }), truth / "expected_counts.parquet")


def _lifecycle_events(w: World, pid: pa.Array, truth: Path) -> None:
    c = w.campaigns
    ch_partner = w.ch("partner")
    parts = []

    def add(mask, etype, day, channel, campaign):
        i = np.flatnonzero(mask)
        parts.append((i, np.full(len(i), etype), day[i], channel[i], campaign[i]))

    lead_ch = np.where(w.lead_campaign >= 0, c.channel[np.maximum(w.lead_campaign, 0)], ch_partner)
    add(w.lead_day != NULL, 0, w.lead_day, lead_ch, w.lead_campaign)
    add(w.customer, 1, w.became, w.acq_channel, w.acq_campaign)
    none = np.full(w.n, -1)
    add(w.lapsed != NULL, 2, w.lapsed, none, none)
    add(w.attrited != NULL, 3, w.attrited, none, none)
    h = w.holdings
    wb_ch = np.full(w.n, -1)
    k3 = np.flatnonzero(h.kind == 3)
    wb_ch[h.person[k3]] = h.channel[k3]
    add(w.won_back != NULL, 4, w.won_back, wb_ch, w.wb_campaign)
    person = np.concatenate([p[0] for p in parts])
    etype = np.concatenate([p[1] for p in parts])
    day = np.concatenate([p[2] for p in parts])
    chan = np.concatenate([p[3] for p in parts])
    camp = np.concatenate([p[4] for p in parts])
    order = np.lexsort((etype, day, person))
    person, etype, day, chan, camp = person[order], etype[order], day[order], chan[order], camp[order]
    pq.write_table(pa.table({
        "person_id": pid.take(pa.array(person)),
        "event_type": _codes(("lead_captured", "became_customer", "lapsed", "attrited", "won_back"), etype),
        "event_date": _date(day),
        "channel": _codes(w.channels, chan),
        "campaign_code": _codes(c.code, camp),
    }), truth / "lifecycle_events.parquet")
