"""Source-system views of the world: one builder per registry entity.

Each builder returns an :class:`EntityData`: delivery day and in-day order per row, and for
every registry column a column source (render.py) that turns numbers into text later. Each
system has its own identifiers and habits (which phone format it stores, how often a field is
empty, how sloppy the typing is).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ..sources import Entity, get_entity
from . import vocab
from .activity import Purchases, activity_windows, poisson_events, simulate_purchases
from .noise import email_noise, name_noise
from .render import (NULL, Col, ConstCol, DateCol, DictCol, IdCol, IntCol, MoneyCol, StrCol, TsCol, hex_ids,
                     phone_strings)
from .world import DAY, FIRST, World, address_index, email_index, phone_at, pick, surname_at

RECORD_KEYS = {
    ("branch", "customers"): "account_number",
    ("web", "users"): "user_id",
    ("mobile", "users"): "app_user_id",
    ("marketing", "leads"): "lead_id",
    ("sales", "contacts"): "contact_id",
}
BOOL = ("false", "true")


@dataclass
class EntityData:
    entity: Entity
    day: np.ndarray  # delivery day of each row
    ts: np.ndarray  # order inside the day's file
    columns: dict[str, Col]
    person: np.ndarray | None = None  # true person of a party record row (-1 none)
    neg_ok: np.ndarray | None = None  # rows whose copy may carry a negative amount

    def __len__(self) -> int:
        return len(self.day)


@dataclass
class Context:
    """Shared derived facts (purchases, windows, user ids) computed once per world."""

    w: World
    purchases: Purchases | None = None
    windows: tuple | None = None
    web_user: np.ndarray | None = None  # person -> primary web user number (-1)
    web_dup: np.ndarray | None = None
    web_dup_reg: np.ndarray | None = None
    app_user: np.ndarray | None = None
    app_dup: np.ndarray | None = None
    app_dup_reg: np.ndarray | None = None
    extra: dict = field(default_factory=dict)


def deliver(rng: np.random.Generator, w: World, sec: np.ndarray, late_rate: float = 0.02) -> np.ndarray:
    """Delivery day: the event day (records from before the period arrive in the first file),
    a few days late for a small share, never after the period end."""
    day = np.maximum(sec // DAY, w.start)
    late = rng.random(len(day)) < late_rate
    day = np.where(late, day + rng.integers(1, 6, len(day)), day)
    return np.minimum(day, w.end)


def strictly_increasing(rec: np.ndarray, sec: np.ndarray, step: int) -> tuple[np.ndarray, np.ndarray]:
    """Order version rows by (record, time) and nudge equal times apart so keys stay unique."""
    order = np.lexsort((sec, rec))
    rec, sec = rec[order], sec[order].copy()
    for _ in range(1000):
        bad = np.flatnonzero((rec[1:] == rec[:-1]) & (sec[1:] <= sec[:-1])) + 1
        if not len(bad):
            break
        sec[bad] = sec[bad - 1] + step
    return order, sec


def _style(e: Entity) -> str:
    return "branch" if e.date_format.startswith("DD") else "iso"


@dataclass
class Registrations:
    """Everyone's first registration in a channel, plus a second one for a few (duplicates)."""

    prim: np.ndarray     # persons with a first registration, in registration order
    dup_of: np.ndarray   # persons who registered a second time
    dup_reg: np.ndarray  # day of that second registration
    person: np.ndarray   # person of each record: first registrations, then the duplicates
    reg_day: np.ndarray  # registration day of each record

    @property
    def is_dup(self) -> np.ndarray:
        return np.arange(len(self.person)) >= len(self.prim)

    def per_person(self, n: int, uid: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(first user id, duplicate user id, duplicate registration day) per person; -1/NULL for none."""
        user = np.full(n, -1, np.int64)
        user[self.prim] = uid[: len(self.prim)]
        dup = np.full(n, -1, np.int64)
        dup[self.dup_of] = uid[len(self.prim):]
        dup_reg = np.full(n, NULL, np.int64)
        dup_reg[self.dup_of] = self.dup_reg
        return user, dup, dup_reg


def _registrations(rng, reg: np.ndarray, end: int, dup_rate: float, delay: tuple[int, int]) -> Registrations:
    prim = np.flatnonzero(reg != NULL)
    prim = prim[np.argsort(reg[prim], kind="stable")]
    dup_of = prim[rng.random(len(prim)) < dup_rate]
    dup_reg = reg[dup_of] + rng.integers(delay[0], delay[1], len(dup_of))
    dup_of, dup_reg = dup_of[dup_reg <= end], dup_reg[dup_reg <= end]
    return Registrations(prim, dup_of, dup_reg, np.concatenate([prim, dup_of]), np.concatenate([reg[prim], dup_reg]))


def _versions(rng, rec_start: np.ndarray, changes: list[np.ndarray], end: int, minute: bool):
    """Rows for versioned records: one at creation, one per change day inside (start, end]."""
    n = len(rec_start)
    recs, secs = [np.arange(n)], [rec_start]
    start_day = rec_start // DAY
    for ch in changes:
        ok = (ch != NULL) & (ch > start_day) & (ch <= end)
        idx = np.flatnonzero(ok)
        recs.append(idx)
        secs.append(ch[idx] * DAY + rng.integers(7 * 3600, 21 * 3600, len(idx)))
    rec = np.concatenate(recs)
    sec = np.concatenate(secs)
    if minute:
        sec = sec // 60 * 60
    order, sec = strictly_increasing(rec, sec, 60 if minute else 1)
    return rec[order], sec


def _names(w: World, rng, person, day, rec, n_rec, **kw):
    first = name_noise(pc.take(pa.array(FIRST), pa.array(w.first[person])), rng, rec, n_rec, **kw)
    last = name_noise(pc.take(pa.array(vocab.SURNAMES), pa.array(surname_at(w, person, day))), rng, rec, n_rec, **kw)
    return first, last


def _emails(w: World, rng, person, day, rec, n_rec, missing, **kw) -> pa.Array:
    """``missing``: share of records without an email (a number, or one per record)."""
    idx = email_index(w, person, day)
    idx = np.where((rng.random(n_rec) < missing)[rec], -1, idx)
    arr = DictCol(w.emails, idx).render(np.arange(len(idx)))
    return email_noise(arr, rng, rec, n_rec, **kw)


def _phones(w: World, rng, national, rec, n_rec, weights, missing: float = 0.0) -> pa.Array:
    fmt = pick(rng, n_rec, weights)[rec]
    national = np.where((rng.random(n_rec) < missing)[rec], -1, national)
    return phone_strings(national, fmt)


# ------------------------------------------------------------------------------ branch

def branch_customers(ctx: Context) -> EntityData:
    w = ctx.w
    e = get_entity("branch", "customers")
    rng = w.cfg.rng(e.table)
    cust = np.flatnonzero(w.customer)
    opened = w.became[cust] * DAY + rng.integers(9 * 3600, 16 * 3600, len(cust))
    h = w.hh[cust]
    changes = [w.hh_arrays["move_day"][h], w.email_change_day[cust], w.phone_change_day[cust], w.married_day[cust],
               w.attrited[cust], w.won_back[cust]]
    rec, sec = _versions(rng, opened, changes, w.end, minute=True)
    p = cust[rec]
    day = sec // DAY
    n_rec = len(cust)
    first, last = _names(w, rng, p, day, rec, n_rec, typo_rate=0.02, upper=0.08, accent=0.01)
    addr = address_index(w, p, day)
    closed = (w.attrited[p] != NULL) & (day >= w.attrited[p]) & ((w.won_back[p] == NULL) | (day < w.won_back[p]))
    titles = pa.array(list(vocab.TITLES_M) + list(vocab.TITLES_F))
    title_idx = np.where(w.gender[p] == 0, w.title[p], len(vocab.TITLES_M) + w.title[p])
    st = _style(e)
    cols: dict[str, Col] = {
        "account_number": IdCol("AC", w.acct[p], 10),
        "title": DictCol(titles, np.where((rng.random(n_rec) < 0.1)[rec], -1, title_idx)),
        "first_name": StrCol(first),
        "last_name": StrCol(last),
        "date_of_birth": DateCol(w.dob[p], st),
        "address_line": DictCol(w.addr_lines, addr),
        "city": DictCol([c[0] for c in vocab.CITIES], w.addr_city[addr]),
        "postcode": IntCol(w.addr_post[addr]),
        "phone": StrCol(_phones(w, rng, phone_at(w, p, day), rec, n_rec, (0.05, 0.05, 0.6, 0.15, 0.05, 0.1),
                                       np.where(_texted(ctx)[cust], 0.0, 0.03))),
        "email": StrCol(_emails(w, rng, p, day, rec, n_rec, missing=np.where(_mailable(ctx)[cust], 0.0, 0.35))),
        "branch_code": DictCol(w.branches, w.home_branch[p]),
        "opened_date": DateCol(w.became[p], st),
        "status": DictCol(("active", "closed"), closed.astype(np.int64)),
        "close_reason": DictCol(("competitor", "moved", "deceased", "other"), np.where(closed, w.close_reason[p], -1)),
        "updated_at": TsCol(sec, st),
    }
    return EntityData(e, deliver(rng, w, sec, 0.01), sec, cols, person=p)


def branch_visits(ctx: Context) -> EntityData:
    w = ctx.w
    e = get_entity("branch", "visits")
    rng = w.cfg.rng(e.table)
    a1, b1, a2, b2 = ctx.windows
    who = np.flatnonzero(w.customer & w.uses_branch)
    rate = np.where(w.uses_web[who] | w.uses_app[who], 0.011, 0.02)
    p1, s1 = poisson_events(rng, who, rate, a1[who], b1[who], (8, 16))
    wb = who[w.won_back[who] != NULL]
    p2, s2 = poisson_events(rng, wb, 0.01, a2[wb], b2[wb], (8, 16))
    p, sec = np.concatenate([p1, p2]), np.concatenate([s1, s2])
    order = np.argsort(sec, kind="stable")
    p, sec = p[order], sec[order]
    m = len(p)
    branch = np.where(rng.random(m) < 0.88, w.home_branch[p], rng.integers(0, len(w.branches), m))
    purpose = pick(rng, m, (0.15, 0.3, 0.3, 0.05, 0.05, 0.15))
    outcome = pick(rng, m, (0.85, 0.1, 0.05))
    st = _style(e)
    ctx.extra["visits"] = (p, sec, branch, purpose, outcome)
    cols = {
        "visit_id": IdCol("BV", np.arange(1, m + 1), 9),
        "account_number": IdCol("AC", w.acct[p], 10),
        "branch_code": DictCol(w.branches, branch),
        "visit_ts": TsCol(sec // 60 * 60, st),
        "purpose": DictCol(e.columns[4].accepted_values, purpose),
        "outcome": DictCol(e.columns[5].accepted_values, outcome),
    }
    return EntityData(e, deliver(rng, w, sec), sec, cols)


def branch_teller(ctx: Context) -> EntityData:
    w = ctx.w
    e = get_entity("branch", "teller_transactions")
    rng = w.cfg.rng(e.table)
    p, vsec, branch, purpose, outcome = ctx.extra["visits"]
    cash = ((purpose == 1) | (purpose == 2)) & (outcome == 0)
    p, vsec, branch, purpose = p[cash], vsec[cash], branch[cash], purpose[cash]
    m = len(p)
    sec = vsec + rng.integers(5 * 60, 40 * 60, m)
    kind = np.where(purpose == 1, np.where(rng.random(m) < 0.12, 2, 0), 1)  # deposit, withdrawal, cheque
    amount = (np.round(rng.lognormal(10.3, 1.0, m) / 100) * 100 * 100).astype(np.int64) + 100_000
    st = _style(e)
    cols = {
        "txn_id": IdCol("TT", np.arange(1, m + 1), 9),
        "account_number": IdCol("AC", w.acct[p], 10),
        "branch_code": DictCol(w.branches, branch),
        "txn_ts": TsCol(sec // 60 * 60, st),
        "txn_type": DictCol(("deposit", "withdrawal", "cheque"), kind),
        "amount": MoneyCol(amount),
        "currency": ConstCol(w.cfg_currency),
    }
    return EntityData(e, deliver(rng, w, sec), sec, cols, neg_ok=np.ones(m, bool))


# --------------------------------------------------------------------------------- web

def web_users(ctx: Context) -> EntityData:
    w = ctx.w
    e = get_entity("web", "users")
    rng = w.cfg.rng(e.table)
    regs = _registrations(rng, w.web_reg, w.end, dup_rate=0.02, delay=(30, 400))
    person, reg_day, is_dup = regs.person, regs.reg_day, regs.is_dup
    n_rec = len(person)
    uid = 10_000_000 + np.arange(n_rec) * 7 + rng.integers(0, 7, n_rec)  # ids not dense, as real systems
    ctx.web_user, ctx.web_dup, ctx.web_dup_reg = regs.per_person(w.n, uid)
    reg_sec = reg_day * DAY + rng.integers(6 * 3600, 23 * 3600, n_rec)
    edit = np.where(rng.random(n_rec) < 0.1, reg_day + rng.integers(10, 700, n_rec), NULL)
    rec, sec = _versions(rng, reg_sec, [w.email_change_day[person], w.phone_change_day[person], w.married_day[person], edit],
                         w.end, minute=False)
    p = person[rec]
    day = sec // DAY
    first, last = _names(w, rng, p, day, rec, n_rec, typo_rate=0.015, upper=0.02, lower=0.04)
    email = _emails(w, rng, p, day, rec, n_rec, missing=0.0, typo_rate=0.01)
    email = pc.if_else(pa.array(is_dup[rec]), pc.utf8_capitalize(email), email)
    opt = (rng.random(n_rec) < 0.55)[rec]
    opt = np.where((edit[rec] != NULL) & (day >= edit[rec]), ~opt, opt)
    uname = pc.binary_join_element_wise(pc.utf8_lower(pc.take(pa.array(FIRST), pa.array(w.first[p]))),
                                        pc.cast(pa.array(uid[rec] % 100000), pa.string()), "")
    cols = {
        "user_id": IdCol("WU", uid[rec], 8),
        "username": StrCol(uname),
        "email": StrCol(email),
        "first_name": StrCol(first),
        "last_name": StrCol(last),
        "phone": StrCol(_phones(w, rng, phone_at(w, p, day), rec, n_rec, (0.3, 0.2, 0.3, 0.1, 0.05, 0.05), missing=0.4)),
        "date_of_birth": DateCol(np.where((rng.random(n_rec) < 0.3)[rec], NULL, w.dob[p])),
        "registered_at": TsCol(reg_sec[rec]),
        "marketing_opt_in": DictCol(BOOL, opt.astype(np.int64)),
        "updated_at": TsCol(sec),
    }
    return EntityData(e, deliver(rng, w, sec, 0.01), sec, cols, person=p)


def web_sessions(ctx: Context) -> EntityData:
    w = ctx.w
    e = get_entity("web", "sessions")
    rng = w.cfg.rng(e.table)
    a1, b1, a2, b2 = ctx.windows
    who = np.flatnonzero(ctx.web_user >= 0)
    start = np.maximum(a1[who], w.web_reg[who])
    p1, s1 = poisson_events(rng, who, np.where(w.customer[who], 0.045, 0.01), start, b1[who], (6, 24))
    wb = who[w.won_back[who] != NULL]
    p2, s2 = poisson_events(rng, wb, 0.045, a2[wb], b2[wb], (6, 24))
    p, sec = np.concatenate([p1, p2]), np.concatenate([s1, s2])
    order = np.argsort(sec, kind="stable")
    p, sec = p[order], sec[order]
    m = len(p)
    dup_ok = (ctx.web_dup[p] >= 0) & (sec // DAY >= ctx.web_dup_reg[p]) & (rng.random(m) < 0.3)
    uid = np.where(dup_ok, ctx.web_dup[p], ctx.web_user[p])
    dur = rng.integers(30, 45 * 60, m)
    cols = {
        "session_id": IdCol("WS", np.arange(1, m + 1), 10),
        "user_id": IdCol("WU", uid, 8),
        "started_at": TsCol(sec),
        "ended_at": TsCol(np.where(rng.random(m) < 0.03, NULL, sec + dur)),
        "pages_viewed": IntCol(rng.integers(1, 30, m)),
        "device_type": DictCol(("desktop", "tablet", "mobile_browser"), pick(rng, m, (0.55, 0.1, 0.35))),
    }
    return EntityData(e, deliver(rng, w, sec), sec, cols)


def web_orders(ctx: Context) -> EntityData:
    w = ctx.w
    e = get_entity("web", "orders")
    rng = w.cfg.rng(e.table)
    b = billing_facts(ctx)
    web = np.flatnonzero(b["is_purchase"] & (b["channel"] == w.ch("web")))
    p = b["person"][web]
    sec = b["sec"][web] - rng.integers(30, 600, len(web))
    cents = b["cents"][web]
    product = b["product"][web]
    status = np.ones(len(web), np.int64)  # completed
    # abandoned / cancelled orders that never became a transaction
    who = np.flatnonzero(ctx.web_user >= 0)
    a1, b1, _, _ = ctx.windows
    cp, cs = poisson_events(rng, who, 0.002, np.maximum(a1[who], w.web_reg[who]), b1[who])
    p = np.concatenate([p, cp])
    sec = np.concatenate([sec, cs])
    cents = np.concatenate([cents, (rng.gamma(4, 1 / w.nu[cp]) * 100).astype(np.int64) + 5000])
    product = np.concatenate([product, rng.integers(0, len(w.products) - 1, len(cp))])
    status = np.concatenate([status, np.where(rng.random(len(cp)) < 0.8, 2, 0)])
    placed_late = status == 2
    order = np.argsort(sec, kind="stable")
    p, sec, cents, product, status = p[order], sec[order], cents[order], product[order], status[order]
    m = len(p)
    qty = np.where(rng.random(m) < 0.05, 2, 1)
    cols = {
        "order_id": IdCol("WO", np.arange(1, m + 1), 9),
        "user_id": IdCol("WU", ctx.web_user[p], 8),
        "ordered_at": TsCol(sec),
        "product_code": DictCol(w.products, product),
        "quantity": IntCol(qty),
        "amount": MoneyCol(cents),
        "currency": ConstCol(w.cfg_currency),
        "status": DictCol(("placed", "completed", "cancelled"), status),
    }
    del placed_late
    return EntityData(e, deliver(rng, w, sec), sec, cols, neg_ok=np.ones(m, bool))


# ------------------------------------------------------------------------------ mobile

def mobile_users(ctx: Context) -> EntityData:
    w = ctx.w
    e = get_entity("mobile", "users")
    rng = w.cfg.rng(e.table)
    regs = _registrations(rng, w.app_reg, w.end, dup_rate=0.015, delay=(20, 300))
    person, reg_day = regs.person, regs.reg_day
    n_rec = len(person)
    uid = 20_000_000 + np.arange(n_rec) * 3 + rng.integers(0, 3, n_rec)
    ctx.app_user, ctx.app_dup, ctx.app_dup_reg = regs.per_person(w.n, uid)
    reg_sec = reg_day * DAY + rng.integers(6 * 3600, 23 * 3600, n_rec)
    device_change = np.where(rng.random(n_rec) < 0.1, reg_day + rng.integers(30, 600, n_rec), NULL)
    rec, sec = _versions(rng, reg_sec, [w.phone_change_day[person], w.married_day[person], device_change,
                                        w.email_change_day[person]], w.end, minute=False)
    p = person[rec]
    day = sec // DAY
    dev = pa.concat_arrays([hex_ids("", rng, n_rec), hex_ids("", rng, n_rec)])
    new_dev = (device_change[rec] != NULL) & (day >= device_change[rec])
    ctx.extra["devices"] = (dev, device_change, n_rec)
    first = pc.take(pa.array(FIRST), pa.array(w.first[p]))
    last = pc.take(pa.array(vocab.SURNAMES), pa.array(surname_at(w, p, day)))
    full = name_noise(pc.binary_join_element_wise(first, last, " "), rng, rec, n_rec, typo_rate=0.02, upper=0.03,
                      lower=0.08, spaces=0.04)
    cols = {
        "app_user_id": IdCol("MU", uid[rec], 8),
        "phone": StrCol(_phones(w, rng, phone_at(w, p, day), rec, n_rec, (0.8, 0.0, 0.1, 0.0, 0.1, 0.0))),
        "device_id": DictCol(dev, rec + n_rec * new_dev),
        "email": StrCol(_emails(w, rng, p, day, rec, n_rec, missing=0.5)),
        "full_name": StrCol(full),
        "registered_at": TsCol(reg_sec[rec]),
        "os": DictCol(("android", "ios"), (rng.random(n_rec) < 0.18).astype(np.int64)[rec]),
        "updated_at": TsCol(sec),
    }
    ctx.extra["app_rec_of_uid"] = (uid, person)
    return EntityData(e, deliver(rng, w, sec, 0.01), sec, cols, person=p)


def mobile_events(ctx: Context) -> EntityData:
    w = ctx.w
    e = get_entity("mobile", "events")
    rng = w.cfg.rng(e.table)
    a1, b1, a2, b2 = ctx.windows
    who = np.flatnonzero(ctx.app_user >= 0)
    start = np.maximum(a1[who], w.app_reg[who])
    rate = np.where(w.customer[who], 0.11, 0.02) * rng.gamma(2.0, 0.5, len(who))
    p1, s1 = poisson_events(rng, who, rate, start, b1[who], (6, 24))
    wb = who[w.won_back[who] != NULL]
    p2, s2 = poisson_events(rng, wb, 0.11, a2[wb], b2[wb], (6, 24))
    p, sec = np.concatenate([p1, p2]), np.concatenate([s1, s2])
    order = np.argsort(sec, kind="stable")
    p, sec = p[order], sec[order]
    m = len(p)
    day = sec // DAY
    use_dup = (ctx.app_dup[p] >= 0) & (day >= ctx.app_dup_reg[p])
    uid = np.where(use_dup, ctx.app_dup[p], ctx.app_user[p])
    # device: the record's current device (records are numbered primary first, then duplicates)
    dev, device_change, n_rec = ctx.extra["devices"]
    rec_of_primary = np.full(w.n, -1, np.int64)
    prim = np.flatnonzero(ctx.app_user >= 0)
    rec_of_primary[prim] = _rank_by(w.app_reg, prim)
    rec_dup = np.full(w.n, -1, np.int64)
    dups = np.flatnonzero(ctx.app_dup >= 0)
    rec_dup[dups] = len(prim) + _order_in(ctx.app_dup, dups)
    rec = np.where(use_dup, rec_dup[p], rec_of_primary[p])
    dc = device_change[rec]
    devi = rec + n_rec * ((dc != NULL) & (day >= dc))
    etype = pick(rng, m, (0.4, 0.25, 0.15, 0.15, 0.05))
    screens = [s for t in ("login", "view_product", "transfer", "bill_payment", "support_chat") for s in vocab.MOBILE_SCREENS[t]]
    offs = np.cumsum([0] + [len(vocab.MOBILE_SCREENS[t]) for t in ("login", "view_product", "transfer", "bill_payment", "support_chat")])
    cnt = np.diff(offs)
    screen = offs[etype] + (rng.random(m) * cnt[etype]).astype(np.int64)
    cols = {
        "event_id": IdCol("ME", np.arange(1, m + 1), 11),
        "app_user_id": IdCol("MU", uid, 8),
        "device_id": DictCol(dev, devi),
        "event_ts": TsCol(sec),
        "event_type": DictCol(e.columns[4].accepted_values, etype),
        "screen": DictCol(screens, screen),
    }
    return EntityData(e, deliver(rng, w, sec), sec, cols)


def _rank_by(key: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """Position of each idx in idx sorted stably by key[idx] (how users were numbered)."""
    order = np.argsort(key[idx], kind="stable")
    rank = np.empty(len(idx), np.int64)
    rank[order] = np.arange(len(idx))
    return rank


def _order_in(uid_of_person: np.ndarray, idx: np.ndarray) -> np.ndarray:
    order = np.argsort(uid_of_person[idx], kind="stable")
    rank = np.empty(len(idx), np.int64)
    rank[order] = np.arange(len(idx))
    return rank


# -------------------------------------------------------------------------- callcentre

def callcentre_calls(ctx: Context) -> EntityData:
    w = ctx.w
    e = get_entity("callcentre", "calls")
    rng = w.cfg.rng(e.table)
    a1, b1, a2, b2 = ctx.windows
    who = np.flatnonzero(w.caller & (w.customer | w.has_phone))
    start = np.where(w.customer[who], np.maximum(a1[who], w.became[who]), a1[who])
    p1, s1 = poisson_events(rng, who, np.where(w.customer[who], 0.009, 0.002), start, b1[who], (7, 21))
    wb = who[w.won_back[who] != NULL]
    p2, s2 = poisson_events(rng, wb, 0.009, a2[wb], b2[wb], (7, 21))
    p, sec = np.concatenate([p1, p2]), np.concatenate([s1, s2])
    order = np.argsort(sec, kind="stable")
    p, sec = p[order], sec[order]
    m = len(p)
    day = sec // DAY
    phone = phone_at(w, p, day)
    phone = np.where(w.customer[p] & (rng.random(m) < 0.02), -1, phone)  # withheld numbers
    fmt = pick(rng, m, (0.6, 0.0, 0.3, 0.0, 0.1, 0.0))
    # agents identify most customers, and always one who withheld the number
    known = w.customer[p] & (day >= w.became[p]) & ((rng.random(m) < 0.6) | (phone < 0))
    resolution = pick(rng, m, (0.7, 0.12, 0.08, 0.1))
    answered = resolution != 3
    wait = np.where(answered, rng.gamma(2, 60, m).astype(np.int64), rng.integers(60, 900, m))
    dur = np.where(answered, rng.gamma(2, 150, m).astype(np.int64) + 20, 0)
    fcr = np.where(resolution == 0, rng.random(m) < 0.85, False)
    cols = {
        "call_id": IdCol("CL", np.arange(1, m + 1), 9),
        "caller_phone": StrCol(phone_strings(phone, fmt)),
        "account_number": IdCol("AC", np.where(known, w.acct[p], NULL), 10),
        "agent_id": IdCol("AG", rng.integers(1, 120, m), 4),
        "started_at": TsCol(sec),
        "wait_seconds": IntCol(wait),
        "duration_seconds": IntCol(dur),
        "reason_code": DictCol(e.columns[7].accepted_values, pick(rng, m, (0.3, 0.2, 0.1, 0.08, 0.1, 0.12, 0.1))),
        "resolution": DictCol(e.columns[8].accepted_values, resolution),
        "first_contact_resolved": DictCol(BOOL, fcr.astype(np.int64)),
    }
    return EntityData(e, deliver(rng, w, sec), sec, cols)


# --------------------------------------------------------------------- email + consent

def _consent_decisions(ctx: Context):
    """First consent decisions per person (email and sms), cached for email targeting."""
    if "consent" in ctx.extra:
        return ctx.extra["consent"]
    w = ctx.w
    rng = w.cfg.rng("consent_decisions")
    end1 = w.end + 1
    touch = np.full(w.n, end1, np.int64)
    touch = np.where(w.customer, np.minimum(touch, w.became), touch)
    touch = np.where(w.has_lead, np.minimum(touch, w.lead_day), touch)
    touch = np.where(w.web_reg != NULL, np.minimum(touch, w.web_reg), touch)
    known = touch <= w.end
    email_person = np.flatnonzero(known & w.has_email)
    email_granted = rng.random(len(email_person)) < 0.65
    sms_person = np.flatnonzero(known & w.has_phone & (rng.random(w.n) < 0.4))
    sms_granted = rng.random(len(sms_person)) < 0.5
    out = (touch, email_person, email_granted, sms_person, sms_granted)
    ctx.extra["consent"] = out
    return out


def _mailable(ctx: Context) -> np.ndarray:
    """People with an email consent decision: the address they gave is on file."""
    _, email_person, _, _, _ = _consent_decisions(ctx)
    out = np.zeros(ctx.w.n, bool)
    out[email_person] = True
    return out


def _texted(ctx: Context) -> np.ndarray:
    """People with an sms consent decision: their phone is on file where they gave it."""
    _, _, _, sms_person, _ = _consent_decisions(ctx)
    out = np.zeros(ctx.w.n, bool)
    out[sms_person] = True
    return out


def email_events(ctx: Context) -> EntityData:
    w = ctx.w
    e = get_entity("email", "events")
    rng = w.cfg.rng(e.table)
    c = w.campaigns
    touch, email_person, email_granted, _, _ = _consent_decisions(ctx)
    eligible = np.zeros(w.n, bool)
    eligible[email_person[email_granted]] = True
    consent_day = touch
    parts = []
    unsubs = []
    camps = np.flatnonzero(c.channel == w.ch("email"))
    camps = camps[np.argsort(c.start_day[camps], kind="stable")]
    for ci in camps:
        send_day = max(int(c.start_day[ci]), w.start)
        if send_day > w.end:
            continue
        pool = np.flatnonzero(eligible & (consent_day <= send_day))
        share = 0.5 if c.objective[ci] == 0 else 0.35
        r = pool[rng.random(len(pool)) < share]
        if c.objective[ci] == 3:  # win-back mails go to former customers only
            r = r[(w.attrited[r] != NULL) & (w.attrited[r] < send_day)]
        m = len(r)
        base = send_day * DAY + int(rng.integers(6, 11)) * 3600 + rng.integers(0, 3600, m)
        bounce = rng.random(m) < 0.015
        opened = ~bounce & (rng.random(m) < 0.28)
        clicked = opened & (rng.random(m) < 0.18)
        unsub = opened & (rng.random(m) < 0.012)
        t_open = base + rng.integers(60, 3 * DAY, m)
        t_click = t_open + rng.integers(5, 600, m)
        t_unsub = t_open + rng.integers(5, 300, m)
        for mask, t, kind in ((np.ones(m, bool), base, 0), (opened, t_open, 1), (clicked, t_click, 2),
                              (bounce, base + rng.integers(1, 120, m), 3), (unsub, t_unsub, 4)):
            keep = mask & (t // DAY <= w.end)
            parts.append((r[keep], t[keep], np.full(int(keep.sum()), kind), np.full(int(keep.sum()), ci)))
        gone = r[unsub & (t_unsub // DAY <= w.end)]
        unsubs.append((gone, t_unsub[unsub & (t_unsub // DAY <= w.end)]))
        eligible[gone] = False
    p = np.concatenate([x[0] for x in parts]) if parts else np.zeros(0, np.int64)
    sec = np.concatenate([x[1] for x in parts]) if parts else np.zeros(0, np.int64)
    kind = np.concatenate([x[2] for x in parts]) if parts else np.zeros(0, np.int64)
    camp = np.concatenate([x[3] for x in parts]) if parts else np.zeros(0, np.int64)
    ctx.extra["unsubscribes"] = (np.concatenate([u[0] for u in unsubs]) if unsubs else np.zeros(0, np.int64),
                                 np.concatenate([u[1] for u in unsubs]) if unsubs else np.zeros(0, np.int64))
    order = np.lexsort((kind, sec))
    p, sec, kind, camp = p[order], sec[order], kind[order], camp[order]
    m = len(p)
    day = sec // DAY
    eidx = email_index(w, p, day)
    addr = DictCol(w.emails, eidx).render(np.arange(m))
    upper = rng.random(m) < 0.02
    addr = pc.if_else(pa.array(upper), pc.utf8_upper(addr), addr)
    cols = {
        "event_id": IdCol("EE", np.arange(1, m + 1), 10),
        "email_address": StrCol(addr),
        "campaign_code": DictCol(c.code, camp),
        "event_type": DictCol(e.columns[3].accepted_values, kind),
        "event_ts": TsCol(sec),
    }
    return EntityData(e, deliver(rng, w, sec, 0.01), sec, cols)


def marketing_consents(ctx: Context) -> EntityData:
    w = ctx.w
    e = get_entity("marketing", "consents")
    rng = w.cfg.rng(e.table)
    touch, ep, eg, sp, sg = _consent_decisions(ctx)
    up, us = ctx.extra["unsubscribes"]
    # random later opt-outs by sms
    later = sp[sg & (rng.random(len(sp)) < 0.05)]
    later_day = touch[later] + rng.integers(10, 500, len(later))
    later, later_day = later[later_day <= w.end], later_day[later_day <= w.end]
    person = np.concatenate([ep, sp, up, later])
    sec = np.concatenate([touch[ep] * DAY + rng.integers(7 * 3600, 22 * 3600, len(ep)),
                          touch[sp] * DAY + rng.integers(7 * 3600, 22 * 3600, len(sp)),
                          us + 30, later_day * DAY + rng.integers(7 * 3600, 22 * 3600, len(later))])
    is_email = np.concatenate([np.ones(len(ep), bool), np.zeros(len(sp), bool), np.ones(len(up), bool), np.zeros(len(later), bool)])
    granted = np.concatenate([eg, sg, np.zeros(len(up), bool), np.zeros(len(later), bool)])
    purpose = np.where(rng.random(len(person)) < 0.9, 0, 1)
    order = np.argsort(sec, kind="stable")
    person, sec, is_email, granted, purpose = person[order], sec[order], is_email[order], granted[order], purpose[order]
    m = len(person)
    day = sec // DAY
    email = DictCol(w.emails, email_index(w, person, day)).render(np.arange(m))
    email = pc.if_else(pa.array(rng.random(m) < 0.03), pc.utf8_upper(email), email)
    phone = phone_strings(phone_at(w, person, day), pick(rng, m, (0.4, 0.1, 0.3, 0.1, 0.05, 0.05)))
    cols = {
        "consent_id": IdCol("CN", np.arange(1, m + 1), 9),
        "subject_type": DictCol(("email", "phone"), (~is_email).astype(np.int64)),
        "subject_value": StrCol(pc.if_else(pa.array(is_email), email, phone)),
        "purpose": DictCol(("marketing", "profiling"), purpose),
        # 'phone' is a valid consent channel but not a seed channel: we only use email/sms/post
        "channel": DictCol(("email", "sms", "post"), np.where(is_email, 0, np.where(rng.random(m) < 0.9, 1, 2))),
        "granted": DictCol(BOOL, granted.astype(np.int64)),
        "recorded_at": TsCol(sec),
    }
    return EntityData(e, deliver(rng, w, sec), sec, cols)


def marketing_campaigns(ctx: Context) -> EntityData:
    w = ctx.w
    e = get_entity("marketing", "campaigns")
    rng = w.cfg.rng(e.table)
    c = w.campaigns
    k = len(c.code)
    rev = np.flatnonzero(c.revised_sec != NULL)
    idx = np.concatenate([np.arange(k), rev])
    sec = np.concatenate([c.created_sec, c.revised_sec[rev]])
    cost = np.concatenate([c.cost_cents, c.revised_cost_cents[rev]])
    order = np.argsort(sec, kind="stable")
    idx, sec, cost = idx[order], sec[order], cost[order]
    cols = {
        "campaign_code": DictCol(c.code, idx),
        "campaign_name": DictCol(c.name, idx),
        "channel": DictCol(w.channels, c.channel[idx]),
        "start_date": DateCol(c.start_day[idx]),
        "end_date": DateCol(c.end_day[idx]),
        "cost": MoneyCol(cost),
        "currency": ConstCol(w.cfg_currency),
        "objective": DictCol(c.OBJECTIVES, c.objective[idx]),
        "updated_at": TsCol(sec),
    }
    return EntityData(e, deliver(rng, w, sec, 0.0), sec, cols, neg_ok=np.ones(len(idx), bool))


def marketing_leads(ctx: Context) -> EntityData:
    w = ctx.w
    e = get_entity("marketing", "leads")
    rng = w.cfg.rng(e.table)
    prim = np.flatnonzero(w.has_lead)
    camp = w.lead_campaign[prim]
    lday = w.lead_day[prim]
    dup = prim[rng.random(len(prim)) < 0.03]
    dday = w.lead_day[dup] + rng.integers(0, 200, len(dup))
    ok = dday <= w.end
    dup, dday = dup[ok], dday[ok]
    dcamp = w.campaigns.latest_started("acquisition", dday)
    person = np.concatenate([prim, dup])
    day = np.concatenate([lday, dday])
    camp = np.concatenate([camp, np.where(w.scheme[dup] >= 0, -1, dcamp)])
    sec = day * DAY + rng.integers(7 * 3600, 22 * 3600, len(person))
    order = np.argsort(sec, kind="stable")
    p, sec, camp = person[order], sec[order], camp[order]
    m = len(p)
    rec = np.arange(m)
    day = sec // DAY
    first, last = _names(w, rng, p, day, rec, m, typo_rate=0.03, upper=0.05, lower=0.03, spaces=0.03)
    # the email platform only mails addresses the bank holds: mailable people keep theirs
    no_email = ((rng.random(m) < 0.3) & ~_mailable(ctx)[p]) | ~w.has_email[p]
    no_phone = (rng.random(m) < 0.15) & ~no_email & ~_texted(ctx)[p] & ~w.caller[p]
    email = _emails(w, rng, p, day, rec, m, missing=0.0, typo_rate=0.02)
    email = pc.if_else(pa.array(no_email), pa.scalar(None, pa.string()), email)
    phone = _phones(w, rng, np.where(no_phone, -1, phone_at(w, p, day)), rec, m, (0.2, 0.2, 0.3, 0.15, 0.1, 0.05))
    head = w.hh_first[w.hh[p]]
    ref = (head != p) & w.customer[head] & (w.became[head] < day) & (rng.random(m) < 0.3)
    scheme_codes = [s[0] for s in vocab.SCHEMES]
    cols = {
        "lead_id": IdCol("LD", np.arange(1, m + 1), 8),
        "first_name": StrCol(first),
        "last_name": StrCol(last),
        "email": StrCol(email),
        "phone": StrCol(phone),
        "campaign_code": DictCol(w.campaigns.code, camp),
        "scheme_code": DictCol(scheme_codes, w.scheme[p]),
        "referred_by_account_number": IdCol("AC", np.where(ref, w.acct[head], NULL), 10),
        "captured_at": TsCol(sec),
    }
    return EntityData(e, deliver(rng, w, sec), sec, cols, person=p)


# ------------------------------------------------------------------------------- sales

def _am_names(w: World) -> list[str]:
    return [f"{FIRST[f]} {vocab.SURNAMES[s]}" for f, s in zip(w.am_first, w.am_last)]


def sales_organisations(ctx: Context) -> EntityData:
    w = ctx.w
    e = get_entity("sales", "organisations")
    rng = w.cfg.rng(e.table)
    k = w.n_org
    created = w.org_created * DAY + rng.integers(8 * 3600, 18 * 3600, k)
    change = np.where(w.org_am2 >= 0, w.org_am2_day, NULL)
    rec, sec = _versions(rng, created, [change], w.end, minute=False)
    am = np.where((change[rec] != NULL) & (sec // DAY >= change[rec]), w.org_am2[rec], w.org_am[rec])
    cols = {
        "org_id": IdCol("ORG", rec + 1, 6),
        "org_name": DictCol(w.org_name, rec),
        "registration_number": IdCol("RC", w.org_regno[rec], 7),
        "industry": DictCol(w.org_industry, rec),
        "employee_count": IntCol(np.maximum(w.org_employees[rec] * 40 + 5, 5)),
        "city": DictCol([c[0] for c in vocab.CITIES], w.org_city[rec]),
        "account_manager_id": IdCol("AM", am + 1, 3),
        "account_manager_name": DictCol(_am_names(w), am),
        "is_employer_scheme": DictCol(BOOL, w.org_scheme[rec].astype(np.int64)),
        "updated_at": TsCol(sec),
    }
    return EntityData(e, deliver(rng, w, sec, 0.0), sec, cols)


def sales_contacts(ctx: Context) -> EntityData:
    w = ctx.w
    e = get_entity("sales", "contacts")
    rng = w.cfg.rng(e.table)
    person, org = w.contact_person, w.contact_org
    n_rec = len(person)
    created = np.maximum(w.org_created[org], w.start - 400) * DAY + rng.integers(8 * 3600, 18 * 3600, n_rec)
    change = np.where(rng.random(n_rec) < 0.15, w.start + rng.integers(1, max(w.end - w.start, 2), n_rec), NULL)
    rec, sec = _versions(rng, created, [change, w.phone_change_day[person], w.married_day[person]], w.end, minute=False)
    p, o = person[rec], org[rec]
    day = sec // DAY
    first, last = _names(w, rng, p, day, rec, n_rec, typo_rate=0.02, upper=0.02)
    work = (rng.random(n_rec) < 0.5)[rec]
    domains = pc.take(pa.array(w.org_domain), pa.array(o))
    work_email = pc.binary_join_element_wise(pc.utf8_lower(first), ".", pc.utf8_lower(last), "@", domains, "")
    work_email = pc.replace_substring(work_email, ". ", ".")
    work_email = pc.replace_substring(work_email, " ", "")
    personal = _emails(w, rng, p, day, rec, n_rec, missing=0.0)
    email = pc.if_else(pa.array(work | pc.is_null(personal).to_numpy(zero_copy_only=False)), work_email, personal)
    title = rng.integers(0, len(vocab.JOB_TITLES), n_rec)
    title2 = (title + 1 + rng.integers(0, len(vocab.JOB_TITLES) - 1, n_rec)) % len(vocab.JOB_TITLES)
    jt = np.where((change[rec] != NULL) & (day >= change[rec]), title2[rec], title[rec])
    cols = {
        "contact_id": IdCol("SC", rec + 1, 7),
        "org_id": IdCol("ORG", o + 1, 6),
        "first_name": StrCol(first),
        "last_name": StrCol(last),
        "email": StrCol(email),
        "phone": StrCol(_phones(w, rng, phone_at(w, p, day), rec, n_rec, (0.3, 0.2, 0.3, 0.1, 0.05, 0.05))),
        "job_title": DictCol(vocab.JOB_TITLES, jt),
        "contact_role": DictCol(e.columns[7].accepted_values, pick(rng, n_rec, (0.4, 0.35, 0.25))[rec]),
        "updated_at": TsCol(sec),
    }
    return EntityData(e, deliver(rng, w, sec, 0.0), sec, cols, person=p)


def sales_opportunities(ctx: Context) -> EntityData:
    w = ctx.w
    e = get_entity("sales", "opportunities")
    rng = w.cfg.rng(e.table)
    span = w.end - w.start + 1
    orgs = np.arange(w.n_org)
    no = rng.poisson(1.5 * span / 365, w.n_org)
    org = np.repeat(orgs, no)
    cust = np.flatnonzero(w.customer & (rng.random(w.n) < 0.04))
    k = len(org) + len(cust)
    is_org = np.concatenate([np.ones(len(org), bool), np.zeros(len(cust), bool)])
    org_i = np.concatenate([org, np.full(len(cust), -1)])
    person = np.concatenate([np.full(len(org), -1), cust])
    lo = np.where(is_org, w.start, np.maximum(w.start, np.where(person >= 0, w.became[np.maximum(person, 0)], w.start)))
    open_day = lo + (rng.random(k) * np.maximum(w.end + 1 - lo, 1)).astype(np.int64)
    open_sec = open_day * DAY + rng.integers(8 * 3600, 18 * 3600, k)
    prop_sec = open_sec + rng.integers(3, 40, k) * DAY
    close_sec = prop_sec + rng.integers(5, 60, k) * DAY
    to_prop = rng.random(k) < 0.6
    won = rng.random(k) < 0.5
    direct_lost = ~to_prop & (rng.random(k) < 0.4)
    lost_sec = open_sec + rng.integers(5, 60, k) * DAY
    end_sec = (w.end + 1) * DAY - 1
    stage_sec = [np.where(to_prop & (prop_sec <= end_sec), prop_sec, NULL),
                 np.where(to_prop & (close_sec <= end_sec), close_sec, np.where(direct_lost & (lost_sec <= end_sec), lost_sec, NULL))]
    # versions: open, proposal, closed (won/lost)
    recs = [np.arange(k)] + [np.flatnonzero(s != NULL) for s in stage_sec]
    secs = [open_sec] + [s[s != NULL] for s in stage_sec]
    stage = [np.zeros(k, np.int64), np.ones(len(recs[1]), np.int64),
             np.where(to_prop[recs[2]], np.where(won[recs[2]], 2, 3), 3)]
    rec = np.concatenate(recs)
    sec = np.concatenate(secs)
    stg = np.concatenate(stage)
    order = np.lexsort((sec, rec))
    rec, sec, stg = rec[order], sec[order], stg[order]
    closed = stg >= 2
    amount = (rng.lognormal(14.5, 1.0, k) // 1000 * 1000 * 100).astype(np.int64) + 10_000_000
    bus = pa.array([p for p in w.products if p == "BIZ_CUR"] * 1)
    prod = np.where(is_org, w.prod("BIZ_CUR"), rng.integers(0, len(w.products) - 1, k))
    prod = np.where(is_org & (rng.random(k) < 0.5), w.prod("LOAN_PERS"), prod)
    del bus
    owner = np.where(is_org, w.org_am[np.maximum(org_i, 0)] + 1, 900 + rng.integers(0, 20, k))
    ctx.extra["opps"] = dict(k=k, prop_sec=prop_sec, to_prop=to_prop, won=won, close_sec=close_sec, amount=amount)
    cols = {
        "opportunity_id": IdCol("OP", rec + 1, 7),
        "org_id": IdCol("ORG", np.where(is_org[rec], org_i[rec] + 1, NULL), 6),
        "account_number": IdCol("AC", np.where(is_org[rec], NULL, w.acct[np.maximum(person[rec], 0)]), 10),
        "product_code": DictCol(w.products, prod[rec]),
        "stage": DictCol(e.columns[4].accepted_values, stg),
        "amount": MoneyCol(amount[rec]),
        "opened_at": TsCol(open_sec[rec]),
        "closed_at": TsCol(np.where(closed, sec, NULL)),
        "owner_id": IdCol("AM", owner[rec], 3),
        "updated_at": TsCol(sec),
    }
    return EntityData(e, deliver(rng, w, sec, 0.0), sec, cols, neg_ok=np.ones(len(rec), bool))


def sales_proposals(ctx: Context) -> EntityData:
    w = ctx.w
    e = get_entity("sales", "proposals")
    rng = w.cfg.rng(e.table)
    o = ctx.extra["opps"]
    end_sec = (w.end + 1) * DAY - 1
    idx = np.flatnonzero(o["to_prop"] & (o["prop_sec"] <= end_sec))
    decided = o["close_sec"][idx] <= end_sec
    status = np.where(decided, np.where(o["won"][idx], 1, 2), 0)
    # one row per proposal, delivered when its outcome is known (or at the period end if open)
    deliver_sec = np.where(decided, o["close_sec"][idx], o["prop_sec"][idx])
    order = np.argsort(deliver_sec, kind="stable")
    idx, status, deliver_sec = idx[order], status[order], deliver_sec[order]
    m = len(idx)
    value = (o["amount"][idx] * rng.uniform(0.8, 1.1, m)).astype(np.int64) // 100 * 100
    cols = {
        "proposal_id": IdCol("PR", np.arange(1, m + 1), 7),
        "opportunity_id": IdCol("OP", idx + 1, 7),
        "sent_at": TsCol(o["prop_sec"][idx]),
        "proposed_value": MoneyCol(value),
        "status": DictCol(("sent", "accepted", "rejected"), status),
    }
    return EntityData(e, deliver(rng, w, deliver_sec, 0.0), deliver_sec, cols, neg_ok=np.ones(m, bool))


def sales_account_plans(ctx: Context) -> EntityData:
    w = ctx.w
    e = get_entity("sales", "account_plans")
    rng = w.cfg.rng(e.table)
    y0, y1 = w.cfg.start.year, w.cfg.end.year
    orgs = np.flatnonzero(w.org_key_account)
    rows = []
    for y in range(y0, y1 + 1):
        from datetime import date as _d
        from .render import day_num
        d = max(day_num(_d(y, 1, 6)), w.start)
        if d > w.end:
            continue
        rows.append((orgs, np.full(len(orgs), y), np.full(len(orgs), d)))
    org = np.concatenate([r[0] for r in rows]) if rows else np.zeros(0, np.int64)
    year = np.concatenate([r[1] for r in rows]) if rows else np.zeros(0, np.int64)
    day = np.concatenate([r[2] for r in rows]) if rows else np.zeros(0, np.int64)
    m = len(org)
    sec = day * DAY + rng.integers(9 * 3600, 17 * 3600, m)
    order = np.argsort(sec, kind="stable")
    org, year, sec = org[order], year[order], sec[order]
    target = (rng.lognormal(17, 0.8, m) // 100000 * 100000 * 100).astype(np.int64) + 100_000_000
    cols = {
        "plan_id": IdCol("KP", year * 1_000_000 + org + 1, 10),
        "org_id": IdCol("ORG", org + 1, 6),
        "plan_year": IntCol(year),
        "target_value": MoneyCol(target),
        "account_manager_id": IdCol("AM", w.org_am[org] + 1, 3),
    }
    return EntityData(e, deliver(rng, w, sec, 0.0), sec, cols, neg_ok=np.ones(m, bool))


def sales_schemes(ctx: Context) -> EntityData:
    """Full extract, delivered once at the start (re-sending it would repeat every key)."""
    w = ctx.w
    e = get_entity("sales", "schemes")
    rng = w.cfg.rng(e.table)
    k = len(vocab.SCHEMES)
    started = w.start - rng.integers(200, 3000, k)
    sec = np.full(k, w.start * DAY + 6 * 3600)
    cols = {
        "scheme_code": DictCol([s[0] for s in vocab.SCHEMES], np.arange(k)),
        "scheme_name": DictCol([s[1] for s in vocab.SCHEMES], np.arange(k)),
        "association_name": DictCol([s[2] for s in vocab.SCHEMES], np.arange(k)),
        "discount_rate": DictCol(("0.10", "0.15", "0.05", "0.20", "0.12"), np.arange(k) % 5),
        "started_at": DateCol(started),
    }
    return EntityData(e, np.full(k, w.start), sec, cols)


# ----------------------------------------------------------------------------- service

def service_cases(ctx: Context) -> EntityData:
    w = ctx.w
    e = get_entity("service", "cases")
    rng = w.cfg.rng(e.table)
    a1, b1, a2, b2 = ctx.windows
    who = np.flatnonzero(w.customer)
    p1, s1 = poisson_events(rng, who, 0.0012, a1[who], b1[who], (7, 21))
    wb = who[w.won_back[who] != NULL]
    p2, s2 = poisson_events(rng, wb, 0.0012, a2[wb], b2[wb], (7, 21))
    person, open_sec = np.concatenate([p1, p2]), np.concatenate([s1, s2])
    order = np.argsort(open_sec, kind="stable")
    person, open_sec = person[order], open_sec[order]
    k = len(person)
    complaint = rng.random(k) < 0.3
    escalated = rng.random(k) < np.where(complaint, 0.25, 0.05)
    close_sec = open_sec + (rng.gamma(1.2, 2.5, k) * DAY).astype(np.int64) + 600
    close_sec = np.where(rng.random(k) < 0.05, NULL, close_sec)
    end_sec = (w.end + 1) * DAY - 1
    is_closed = (close_sec != NULL) & (close_sec <= end_sec)
    esc_sec = np.where(escalated, open_sec + (rng.random(k) * np.where(is_closed, close_sec - open_sec, DAY)).astype(np.int64) + 1, NULL)
    esc_sec = np.where(esc_sec > end_sec, NULL, esc_sec)
    recs = [np.arange(k), np.flatnonzero(esc_sec != NULL), np.flatnonzero(is_closed)]
    secs = [open_sec, esc_sec[recs[1]], close_sec[recs[2]]]
    kind = [np.zeros(len(recs[0]), np.int64), np.ones(len(recs[1]), np.int64), np.full(len(recs[2]), 2)]
    rec, sec, knd = np.concatenate(recs), np.concatenate(secs), np.concatenate(kind)
    order, sec = strictly_increasing(rec, sec, 1)
    rec, knd = rec[order], knd[order]
    p = person[rec]
    day = sec // DAY
    m = len(rec)
    ref_type = pick(rng, k, (0.5, 0.25, 0.25))
    ref_type = np.where((ref_type == 1) & ~w.has_email[person], 2, ref_type)
    ref_type = np.where((ref_type == 2) & ~w.has_phone[person], 0, ref_type)
    rt = ref_type[rec]
    acct = IdCol("AC", w.acct[p], 10).render(np.arange(m))
    open_day = open_sec[rec] // DAY
    email = DictCol(w.emails, email_index(w, p, open_day)).render(np.arange(m))
    phone = phone_strings(phone_at(w, p, open_day), pick(rng, k, (0.3, 0.2, 0.3, 0.1, 0.05, 0.05))[rec])
    ref = pc.choose(pa.array(rt.astype(np.int8)), acct, email, phone)
    chans = np.array([w.ch(x) for x in ("call_centre", "branch", "web", "email", "mobile")])
    channel = chans[pick(rng, k, (0.45, 0.2, 0.15, 0.1, 0.1))]
    category = np.where(complaint, pick(rng, k, (0.2, 0.1, 0.1, 0.3, 0.25, 0.05, 0.0)),
                        pick(rng, k, (0.25, 0.2, 0.15, 0.05, 0.05, 0.2, 0.1)))
    priority = np.where(complaint, pick(rng, k, (0.2, 0.5, 0.3)), pick(rng, k, (0.5, 0.4, 0.1)))
    answered = rng.random(k) < 0.4
    score = np.clip(np.round(rng.normal(np.where(complaint, 2.6, 4.0), 1.0, k)), 1, 5).astype(np.int64)
    closed_row = knd == 2
    esc_now = (esc_sec[rec] != NULL) & (sec >= esc_sec[rec])
    cols = {
        "case_id": IdCol("CS", rec + 1, 8),
        "customer_ref": StrCol(ref),
        "customer_ref_type": DictCol(e.columns[2].accepted_values, rt),
        "channel": DictCol(w.channels, channel[rec]),
        "category": DictCol(e.columns[4].accepted_values, category[rec]),
        "is_complaint": DictCol(BOOL, complaint[rec].astype(np.int64)),
        "priority": DictCol(e.columns[6].accepted_values, priority[rec]),
        "opened_at": TsCol(open_sec[rec]),
        "closed_at": TsCol(np.where(closed_row, sec, NULL)),
        "escalated": DictCol(BOOL, esc_now.astype(np.int64)),
        "satisfaction_score": IntCol(np.where(closed_row & answered[rec], score[rec], NULL)),
        "status": DictCol(("open", "closed"), closed_row.astype(np.int64)),
        "updated_at": TsCol(sec),
    }
    return EntityData(e, deliver(rng, w, sec), sec, cols)


# ------------------------------------------------------------------ credit, collections

def _credit_holdings(w: World, prefix: tuple[str, ...]) -> np.ndarray:
    h = w.holdings
    credit = np.array([any(p.startswith(x) for x in prefix) for p in w.products])
    return np.flatnonzero(credit[h.product])


def credit_limit_changes(ctx: Context) -> EntityData:
    w = ctx.w
    e = get_entity("credit", "limit_changes")
    rng = w.cfg.rng(e.table)
    h = w.holdings
    cards = _credit_holdings(w, ("CARD_",))
    a = np.maximum(h.start_day[cards], w.start)
    b = np.where(h.end_day[cards] != NULL, h.end_day[cards], w.end + 1)
    hi, sec = poisson_events(rng, cards, 0.0015, a, b, (8, 20))
    order = np.argsort(sec, kind="stable")
    hi, sec = hi[order], sec[order]
    m = len(hi)
    base = np.array([100_000, 200_000, 300_000, 500_000, 1_000_000, 2_000_000])[rng.integers(0, 6, m)] * 100
    req = (base * np.array([1.5, 2.0, 3.0])[rng.integers(0, 3, m)]).astype(np.int64)
    approved = rng.random(m) < 0.6
    new = np.where(approved, np.where(rng.random(m) < 0.7, req, (base + req) // 2), base)
    eff = np.minimum(sec // DAY + rng.integers(0, 4, m), w.end)
    reasons = list(vocab.CREDIT_REASONS_APPROVED) + list(vocab.CREDIT_REASONS_REFUSED)
    na = len(vocab.CREDIT_REASONS_APPROVED)
    reason = np.where(approved, rng.integers(0, na, m), na + rng.integers(0, len(vocab.CREDIT_REASONS_REFUSED), m))
    cols = {
        "change_id": IdCol("CR", np.arange(1, m + 1), 8),
        "account_number": IdCol("AC", w.acct[h.person[hi]], 10),
        "product_code": DictCol(w.products, h.product[hi]),
        "old_limit": MoneyCol(base),
        "requested_limit": MoneyCol(req),
        "new_limit": MoneyCol(new),
        "decision": DictCol(("approved", "refused"), (~approved).astype(np.int64)),
        "requested_at": TsCol(sec),
        "effective_date": DateCol(eff),
        "reason": DictCol(reasons, reason),
    }
    return EntityData(e, deliver(rng, w, sec), sec, cols, neg_ok=np.ones(m, bool))


def collections_events(ctx: Context) -> EntityData:
    w = ctx.w
    e = get_entity("collections", "events")
    rng = w.cfg.rng(e.table)
    h = w.holdings
    cr = _credit_holdings(w, ("CARD_", "LOAN_", "MORT_"))
    cr = cr[rng.random(len(cr)) < 0.25]
    a = np.maximum(h.start_day[cr], w.start)
    b = np.where(h.end_day[cr] != NULL, h.end_day[cr], w.end + 1)
    hi, due_sec = poisson_events(rng, cr, 0.0035, a, b, (0, 1))
    due = due_sec // DAY
    dpd = rng.integers(1, 91, len(hi))
    ev = due + dpd
    ok = ev <= w.end
    hi, due, dpd, ev = hi[ok], due[ok], dpd[ok], ev[ok]
    k = len(hi)
    overdue = (rng.lognormal(10.5, 0.9, k) * 100).astype(np.int64) + 500_000
    fee = rng.random(k) < 0.6
    charge = rng.random(k) < 0.4
    plan = (dpd > 60) & (rng.random(k) < 0.3)
    parts = [(np.arange(k), np.zeros(k, np.int64), overdue)]
    parts.append((np.flatnonzero(fee), np.ones(int(fee.sum()), np.int64), np.full(int(fee.sum()), 250_000)))
    parts.append((np.flatnonzero(charge), np.full(int(charge.sum()), 2), overdue[charge] * rng.integers(1, 6, int(charge.sum())) // 100 + 100))
    parts.append((np.flatnonzero(plan), np.full(int(plan.sum()), 3), overdue[plan]))
    src = np.concatenate([x[0] for x in parts])
    typ = np.concatenate([x[1] for x in parts])
    amt = np.concatenate([x[2] for x in parts]).astype(np.int64)
    sec = ev[src] * DAY + rng.integers(1 * 3600, 6 * 3600, len(src)) + typ
    order = np.argsort(sec, kind="stable")
    src, typ, amt, sec = src[order], typ[order], amt[order], sec[order]
    m = len(src)
    cols = {
        "event_id": IdCol("CE", np.arange(1, m + 1), 8),
        "account_number": IdCol("AC", w.acct[h.person[hi[src]]], 10),
        "event_type": DictCol(e.columns[2].accepted_values, typ),
        "amount": MoneyCol(amt),
        "due_date": DateCol(due[src]),
        "event_date": DateCol(ev[src]),
        "days_past_due": IntCol(dpd[src]),
    }
    return EntityData(e, deliver(rng, w, sec), sec, cols, neg_ok=np.ones(m, bool))


# ----------------------------------------------------------------------------- billing

def billing_holdings(ctx: Context) -> EntityData:
    w = ctx.w
    e = get_entity("billing", "holdings")
    rng = w.cfg.rng(e.table)
    h = w.holdings
    k = len(h)
    closes = np.flatnonzero(h.close_sec != NULL)
    rec = np.concatenate([np.arange(k), closes])
    sec = np.concatenate([h.open_sec, h.close_sec[closes]])
    order = np.lexsort((rec, sec))
    rec, sec = rec[order], sec[order]
    closed = np.concatenate([np.zeros(k, bool), np.ones(len(closes), bool)])[order]
    fee = w.product_fee[h.product[rec]]
    disc = np.where(h.scheme[rec] >= 0, 90, 100)
    fee = fee * disc // 100
    scheme_codes = [s[0] for s in vocab.SCHEMES]
    cols = {
        "holding_id": IdCol("H", rec + 1, 9),
        "account_number": IdCol("AC", w.acct[h.person[rec]], 10),
        "payer_account_number": IdCol("AC", np.where(h.payer[rec] >= 0, w.acct[np.maximum(h.payer[rec], 0)], NULL), 10),
        "product_code": DictCol(w.products, h.product[rec]),
        "sponsor_org_id": IdCol("ORG", np.where(h.sponsor_org[rec] >= 0, h.sponsor_org[rec] + 1, NULL), 6),
        "scheme_code": DictCol(scheme_codes, h.scheme[rec]),
        "acquisition_channel": DictCol(w.channels, h.channel[rec]),
        "campaign_code": DictCol(w.campaigns.code, h.campaign[rec]),
        "start_date": DateCol(h.start_day[rec]),
        "end_date": DateCol(np.where(closed, h.end_day[rec], NULL)),
        "status": DictCol(("active", "closed"), closed.astype(np.int64)),
        "monthly_fee": MoneyCol(fee),
        "updated_at": TsCol(sec),
    }
    return EntityData(e, deliver(rng, w, sec, 0.01), sec, cols, neg_ok=np.ones(len(rec), bool))


def billing_facts(ctx: Context) -> dict:
    if "billing" not in ctx.extra:
        ctx.extra["billing"] = _commerce(ctx)
    return ctx.extra["billing"]


def _commerce(ctx: Context) -> dict:
    """Purchases plus refunds, fees and interest, each tied to a holding and a channel."""
    w = ctx.w
    rng = w.cfg.rng("commerce")
    pur = ctx.purchases
    h = w.holdings
    of_kind = []
    for kind in range(4):
        arr = np.full(w.n, -1, np.int64)
        idx = np.flatnonzero(h.kind == kind)
        arr[h.person[idx]] = idx
        of_kind.append(arr)
    p, sec = pur.person, pur.sec
    m = len(p)
    day = sec // DAY
    r = rng.random(m)
    hold = of_kind[0][p]
    emp = of_kind[1][p]
    use_emp = (emp >= 0) & (day >= h.start_day[np.maximum(emp, 0)]) & (r < 0.5)
    hold = np.where(use_emp, emp, hold)
    cs = of_kind[2][p]
    cs_ok = (cs >= 0) & (day >= h.start_day[np.maximum(cs, 0)]) & ((h.end_day[np.maximum(cs, 0)] == NULL) | (day < h.end_day[np.maximum(cs, 0)]))
    hold = np.where(cs_ok & (r < 0.3), cs, hold)
    hold = np.where(pur.window == 2, of_kind[3][p], hold)
    r2 = rng.random(m)
    web_ok = (ctx.web_user[p] >= 0) & (w.web_reg[p] != NULL) & (day >= w.web_reg[p])
    app_ok = (w.app_reg[p] != NULL) & (day >= w.app_reg[p])
    chan = np.where(r2 < 0.9, w.ch("branch"), w.ch("call_centre"))
    chan = np.where(app_ok & (r2 < 0.65), w.ch("mobile"), chan)
    chan = np.where(web_ok & (r2 < 0.3), w.ch("web"), chan)
    typ = np.zeros(m, np.int64)
    # refunds of some purchases, a few days later
    ref = np.flatnonzero(rng.random(m) < 0.02)
    rsec = sec[ref] + rng.integers(1, 20, len(ref)) * DAY
    ok = rsec // DAY <= w.end
    ref, rsec = ref[ok], rsec[ok]
    rcents = -np.maximum(pur.cents[ref] * rng.integers(20, 101, len(ref)) // 100, 100)
    # fees (about one a year) and quarterly interest on credit products
    cust = np.flatnonzero(w.customer)
    a1, b1, _, _ = ctx.windows
    fp, fsec = poisson_events(rng, cust, 1 / 365, np.maximum(w.became[cust], w.start), b1[cust], (1, 5))
    credit = np.flatnonzero(w.product_credit[h.product])
    ip, isec = poisson_events(rng, credit, 1 / 91, np.maximum(h.start_day[credit], w.start),
                              np.where(h.end_day[credit] != NULL, h.end_day[credit], w.end + 1), (1, 5))
    cols = dict(
        person=np.concatenate([p, p[ref], fp, h.person[ip]]),
        sec=np.concatenate([sec, rsec, fsec, isec]),
        cents=np.concatenate([pur.cents, rcents, rng.integers(500, 5000, len(fp)) * 100, rng.integers(500, 20000, len(ip)) * 100]),
        hold=np.concatenate([hold, hold[ref], of_kind[0][fp], ip]),
        channel=np.concatenate([chan, chan[ref], np.full(len(fp), w.ch("branch")), np.full(len(ip), w.ch("branch"))]),
        type=np.concatenate([typ, np.full(len(ref), 2), np.ones(len(fp), np.int64), np.full(len(ip), 3)]),
    )
    # a fee for someone whose primary holding lapsed to nothing should not happen; guard anyway
    keep = cols["hold"] >= 0
    cols = {k: v[keep] for k, v in cols.items()}
    order = np.argsort(cols["sec"], kind="stable")
    cols = {k: v[order] for k, v in cols.items()}
    cols["product"] = h.product[cols["hold"]]
    cols["is_purchase"] = cols["type"] == 0
    return cols


def billing_transactions(ctx: Context) -> EntityData:
    w = ctx.w
    e = get_entity("billing", "transactions")
    rng = w.cfg.rng(e.table)
    b = billing_facts(ctx)
    m = len(b["sec"])
    cols = {
        "txn_id": IdCol("BT", np.arange(1, m + 1), 10),
        "account_number": IdCol("AC", w.acct[b["person"]], 10),
        "holding_id": IdCol("H", b["hold"] + 1, 9),
        "product_code": DictCol(w.products, b["product"]),
        "txn_ts": TsCol(b["sec"]),
        "amount": MoneyCol(b["cents"]),
        "currency": ConstCol(w.cfg_currency),
        "txn_type": DictCol(e.columns[7].accepted_values, b["type"]),
        "channel": DictCol(w.channels, b["channel"]),
    }
    return EntityData(e, deliver(rng, w, b["sec"]), b["sec"], cols, neg_ok=b["type"] == 0)


BUILDERS = (
    ("branch", "customers", branch_customers),
    ("branch", "visits", branch_visits),
    ("branch", "teller_transactions", branch_teller),
    ("web", "users", web_users),
    ("web", "sessions", web_sessions),
    ("mobile", "users", mobile_users),
    ("mobile", "events", mobile_events),
    ("callcentre", "calls", callcentre_calls),
    ("email", "events", email_events),
    ("marketing", "campaigns", marketing_campaigns),
    ("marketing", "leads", marketing_leads),
    ("marketing", "consents", marketing_consents),
    ("sales", "organisations", sales_organisations),
    ("sales", "contacts", sales_contacts),
    ("sales", "opportunities", sales_opportunities),
    ("sales", "proposals", sales_proposals),
    ("sales", "account_plans", sales_account_plans),
    ("sales", "schemes", sales_schemes),
    ("service", "cases", service_cases),
    ("credit", "limit_changes", credit_limit_changes),
    ("collections", "events", collections_events),
    ("billing", "holdings", billing_holdings),
    ("billing", "transactions", billing_transactions),
    ("web", "orders", web_orders),
)


def make_context(w: World) -> Context:
    ctx = Context(w)
    ctx.purchases = simulate_purchases(w)
    ctx.windows = activity_windows(w)
    return ctx
