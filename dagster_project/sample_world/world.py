"""The true world: people, households, organisations, campaigns, lifecycle and products held.

Everything here is numpy arrays indexed by person (or household, organisation, holding), so a
million people cost a few vectorised passes. Source systems (entities.py) are views of this
world with their own identifiers, habits and noise; the truth files are written from it.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ..settings import PROJECT_ROOT
from . import vocab
from .config import WorldConfig
from .render import NULL, day_num

DAY = 86400
FIRST = tuple(vocab.MALE_FIRST) + tuple(vocab.FEMALE_FIRST)
N_MALE = len(vocab.MALE_FIRST)
SALE_CHANNELS = ("branch", "web", "mobile", "call_centre", "field_sales", "partner")


def _seed_rows(name: str) -> list[dict[str, str]]:
    with open(PROJECT_ROOT / "seeds" / f"{name}.csv", newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def affine(idx: np.ndarray, modulus: int, mult: int, add: int) -> np.ndarray:
    """A bijection on [0, modulus) (mult coprime with modulus): unique, scrambled numbers."""
    return (idx.astype(np.int64) * mult + add) % modulus


def pick(rng: np.random.Generator, n: int, weights) -> np.ndarray:
    w = np.asarray(weights, float)
    return rng.choice(len(w), size=n, p=w / w.sum())


@dataclass
class Campaigns:
    code: list[str]
    name: list[str]
    channel: np.ndarray  # index into World.channels
    objective: np.ndarray  # index into OBJECTIVES
    start_day: np.ndarray
    end_day: np.ndarray
    cost_cents: np.ndarray
    created_sec: np.ndarray
    revised_sec: np.ndarray  # NULL when never revised inside the period
    revised_cost_cents: np.ndarray

    OBJECTIVES = ("acquisition", "cross_sell", "retention", "win_back")

    def of(self, objective: str) -> np.ndarray:
        return np.flatnonzero(self.objective == self.OBJECTIVES.index(objective))

    def latest_started(self, objective: str, days: np.ndarray) -> np.ndarray:
        """The campaign of an objective that started most recently on or before each day (-1)."""
        ids = self.of(objective)
        ids = ids[np.argsort(self.start_day[ids], kind="stable")]
        pos = np.searchsorted(self.start_day[ids], days, side="right") - 1
        return np.where(pos >= 0, ids[np.clip(pos, 0, None)], -1)


@dataclass
class Holdings:
    person: np.ndarray
    product: np.ndarray  # index into World.products
    start_day: np.ndarray
    end_day: np.ndarray  # NULL while held
    sponsor_org: np.ndarray  # -1
    scheme: np.ndarray  # -1
    channel: np.ndarray  # index into World.channels
    campaign: np.ndarray  # -1
    payer: np.ndarray  # person paying, -1 when the user pays
    kind: np.ndarray  # 0 primary, 1 employer, 2 cross-sell, 3 win-back
    open_sec: np.ndarray
    close_sec: np.ndarray  # NULL

    def __len__(self) -> int:
        return len(self.person)


@dataclass
class World:
    cfg: WorldConfig
    start: int
    end: int
    n: int
    channels: list[str] = field(default_factory=list)
    products: list[str] = field(default_factory=list)
    product_fee: np.ndarray = field(default_factory=lambda: np.zeros(0))
    product_credit: np.ndarray = field(default_factory=lambda: np.zeros(0, bool))
    branches: list[str] = field(default_factory=list)
    arrays: dict[str, np.ndarray] = field(default_factory=dict)

    def __getattr__(self, name: str) -> np.ndarray:  # person / household arrays by name
        arrays = self.__dict__.get("arrays", {})
        if name in arrays:
            return arrays[name]
        raise AttributeError(name)

    def ch(self, code: str) -> int:
        return self.channels.index(code)

    def prod(self, code: str) -> int:
        return self.products.index(code)


def build_world(cfg: WorldConfig) -> World:
    w = World(cfg, day_num(cfg.start), day_num(cfg.end), cfg.people)
    w.channels = [r["channel_code"] for r in _seed_rows("channels")]
    prods = _seed_rows("products")
    w.products = [r["product_code"] for r in prods]
    w.product_fee = np.array([int(float(r["typical_monthly_fee"]) * 100) for r in prods], np.int64)
    w.product_credit = np.array([r["is_credit"].strip().lower() == "true" for r in prods])
    w.branches = [r["branch_code"] for r in _seed_rows("branches")]
    w.cfg_currency = "NGN"
    _people(w)
    _households(w)
    _contact_points(w)
    _organisations(w)
    w.campaigns = _campaigns(w)
    _lifecycle(w)
    _channel_registrations(w)
    w.holdings = _holdings(w)
    return w


# ----------------------------------------------------------------------------- people

def _people(w: World) -> None:
    rng = w.cfg.rng("people")
    n = w.n
    sizes = pick(rng, n, (0.45, 0.30, 0.12, 0.09, 0.04)) + 1
    ends = np.cumsum(sizes)
    k = int(np.searchsorted(ends, n)) + 1
    sizes = sizes[:k]
    sizes[-1] -= ends[k - 1] - n
    hh = np.repeat(np.arange(k), sizes)
    first_of_hh = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    member = np.arange(n) - first_of_hh[hh]
    head = member == 0
    size = sizes[hh]

    gender = rng.integers(0, 2, n)
    partner = member == 1
    gender[partner] = 1 - gender[first_of_hh[hh[partner]]]
    # ages: heads of families with children are older; children are adults (18+)
    age_head = np.where(sizes >= 3, rng.uniform(45, 82, k), rng.uniform(21, 82, k))
    age = np.where(head, age_head[hh], 0.0)
    age = np.where(partner, np.clip(age_head[hh] + rng.normal(-2, 4, n), 19, 85), age)
    kid = member >= 2
    age = np.where(kid, np.clip(age_head[hh] - rng.uniform(22, 36, n), 18, 60), age)
    dob = w.start - (age * 365.25).astype(np.int64) - rng.integers(0, 365, n)
    lo, hi = day_num(__import__("datetime").date(1930, 1, 1)), day_num(__import__("datetime").date(2008, 12, 31))
    dob = np.clip(dob, lo, hi)

    first = np.where(gender == 0, rng.integers(0, N_MALE, n), N_MALE + rng.integers(0, len(vocab.FEMALE_FIRST), n))
    fam_name = rng.integers(0, len(vocab.SURNAMES), k)
    surname = fam_name[hh].copy()
    # partners: most share the family name; some married during the period (surname change)
    own = rng.integers(0, len(vocab.SURNAMES), n)
    keeps_own = partner & (rng.random(n) < 0.15)
    surname[keeps_own] = own[keeps_own]
    maiden = surname.copy()
    married_day = np.full(n, NULL, np.int64)
    marries = partner & ~keeps_own & (gender == 1) & (size == 2) & (rng.random(n) < 0.12)
    maiden[marries] = np.where(own[marries] == surname[marries], (own[marries] + 1) % len(vocab.SURNAMES), own[marries])
    married_day[marries] = rng.integers(w.start + 20, w.end - 10, int(marries.sum())) if w.end - w.start > 40 else NULL
    if w.end - w.start <= 40:
        maiden[marries] = surname[marries]
    title = np.where(gender == 0, rng.integers(0, len(vocab.TITLES_M), n), rng.integers(0, len(vocab.TITLES_F), n))

    w.arrays.update(hh=hh, hh_member=member, hh_head=head, hh_size=size, gender=gender, dob=dob, first=first,
                    surname=surname, maiden=maiden, married_day=married_day, title=title)
    w.n_hh = k
    w.hh_first = first_of_hh


def surname_at(w: World, person: np.ndarray, day: np.ndarray) -> np.ndarray:
    md = w.married_day[person]
    return np.where((md != NULL) & (day < md), w.maiden[person], w.surname[person])


def _households(w: World) -> None:
    rng = w.cfg.rng("households")
    k = w.n_hh
    cw = np.array([c[1] for c in vocab.CITIES])

    def address(m: int):
        city = pick(rng, m, cw)
        street = rng.integers(0, len(vocab.STREETS), m)
        stype = rng.integers(0, len(vocab.STREET_TYPES), m)
        num = rng.integers(1, 250, m)
        npre = np.array([len(c[3]) for c in vocab.CITIES])
        pre_i = (rng.random(m) * npre[city]).astype(int)
        prefixes = np.array([[int(p) for p in (c[3] + c[3][:1] * 5)[:5]] for c in vocab.CITIES])
        postcode = prefixes[city, pre_i] * 1000 + rng.integers(1, 999, m)
        return city, street, stype, num, postcode

    c0, s0, t0, n0, p0 = address(k)
    moves = rng.random(k) < 0.07
    move_day = np.full(k, NULL, np.int64)
    if w.end - w.start > 20:
        move_day[moves] = rng.integers(w.start + 10, w.end - 5, int(moves.sum()))
    c1, s1, t1, n1, p1 = address(k)
    same_city = rng.random(k) < 0.6
    c1 = np.where(same_city, c0, c1)
    npre = np.array([len(c[3]) for c in vocab.CITIES])
    prefixes = np.array([[int(p) for p in (c[3] + c[3][:1] * 5)[:5]] for c in vocab.CITIES])
    p1 = prefixes[c1, (rng.random(k) * npre[c1]).astype(int)] * 1000 + rng.integers(1, 999, k)
    nbr = np.array([len(c[2]) for c in vocab.CITIES])
    branch_pick = (rng.random(k) * nbr[c0]).astype(int)
    home_branch_code = np.array([[w.branches.index(b) for b in (c[2] * 3)[:3]] for c in vocab.CITIES])
    w.hh_arrays = dict(city0=c0, street0=s0, stype0=t0, num0=n0, post0=p0, move_day=move_day,
                       city1=c1, street1=s1, stype1=t1, num1=n1, post1=p1,
                       branch=home_branch_code[c0, branch_pick])
    # address lines as strings: [old addresses..., new addresses...]
    streets = pa.array([f"{s} {t}" for s in vocab.STREETS for t in vocab.STREET_TYPES])
    line = lambda num, s, t: pc.binary_join_element_wise(pc.cast(pa.array(num), pa.string()), pc.take(streets, pa.array(s * len(vocab.STREET_TYPES) + t)), " ")
    w.addr_lines = pa.concat_arrays([line(n0, s0, t0), line(n1, s1, t1)])
    w.addr_city = np.concatenate([c0, c1])
    w.addr_post = np.concatenate([p0, p1])
    w.arrays["home_branch"] = w.hh_arrays["branch"][w.hh]


def address_index(w: World, person: np.ndarray, day: np.ndarray) -> np.ndarray:
    """Index into w.addr_lines / addr_city / addr_post of a person's address on a day."""
    h = w.hh[person]
    md = w.hh_arrays["move_day"][h]
    return np.where((md != NULL) & (day >= md), h + w.n_hh, h)


def _contact_points(w: World) -> None:
    """Unique personal emails and mobile numbers; a few change during the period."""
    rng = w.cfg.rng("contact_points")
    n = w.n
    idx = np.arange(n)
    span = max(w.end - w.start, 2)
    has_email = rng.random(n) < 0.9
    num1 = affine(idx, n, _coprime(n, 7919), 13) + 10
    num2 = num1 + n + 10
    pattern = rng.integers(0, 4, n)
    domain1 = pick(rng, n, vocab.EMAIL_DOMAIN_WEIGHTS)
    domain2 = pick(rng, n, vocab.EMAIL_DOMAIN_WEIGHTS)
    change = has_email & (rng.random(n) < 0.05) & (span > 20)
    email_change_day = np.full(n, NULL, np.int64)
    email_change_day[change] = w.start + 5 + rng.integers(0, span - 10, int(change.sum()))

    first = pa.array(FIRST)
    sur = pa.array(vocab.SURNAMES)
    fl = pc.utf8_lower(pc.take(first, pa.array(w.first)))
    # emails use the surname the person had when the address was made (maiden name for brides)
    sl = pc.utf8_lower(pc.take(sur, pa.array(w.maiden)))
    f1 = pc.utf8_slice_codeunits(fl, 0, 1)

    def make(num: np.ndarray, pat: np.ndarray, dom: np.ndarray) -> pa.Array:
        ns = pc.cast(pa.array(num), pa.string())
        local = pc.choose(pa.array(pat.astype(np.int8)),
                          pc.binary_join_element_wise(fl, ".", sl, ""),
                          pc.binary_join_element_wise(fl, sl, ""),
                          pc.binary_join_element_wise(f1, sl, ""),
                          pc.binary_join_element_wise(fl, "_", sl, ""))
        d = pc.take(pa.array(vocab.EMAIL_DOMAINS), pa.array(dom))
        return pc.binary_join_element_wise(local, ns, "@", d, "")

    e1 = make(num1, pattern, domain1)
    e2 = make(num2, (pattern + 1) % 4, domain2)
    none = pa.scalar(None, pa.string())
    w.email_old = pc.if_else(pa.array(has_email), e1, none)
    w.email_new = pc.if_else(pa.array(change), e2, w.email_old)
    w.emails = pa.concat_arrays([w.email_old, w.email_new])

    modulus = len(vocab.MOBILE_PREFIXES) * 10**7
    u1 = affine(idx, modulus, 2654435761 % modulus | 1, 12345)
    u2 = affine(idx + n, modulus, 2654435761 % modulus | 1, 12345)
    pref = np.array([int(p) for p in vocab.MOBILE_PREFIXES], np.int64)
    ph1 = pref[u1 // 10**7] * 10**7 + u1 % 10**7
    ph2 = pref[u2 // 10**7] * 10**7 + u2 % 10**7
    has_phone = rng.random(n) < 0.97
    pchange = has_phone & (rng.random(n) < 0.03) & (span > 20)
    phone_change_day = np.full(n, NULL, np.int64)
    phone_change_day[pchange] = w.start + 5 + rng.integers(0, span - 10, int(pchange.sum()))
    w.arrays.update(has_email=has_email, email_change_day=email_change_day, has_phone=has_phone,
                    phone_old=np.where(has_phone, ph1, -1), phone_new=np.where(pchange, ph2, np.where(has_phone, ph1, -1)),
                    phone_change_day=phone_change_day)


def _coprime(n: int, mult: int) -> int:
    from math import gcd
    m = mult
    while gcd(m, n) != 1:
        m += 2
    return m % n if n > 1 else 1


def email_index(w: World, person: np.ndarray, day: np.ndarray) -> np.ndarray:
    """Index into w.emails of a person's email on a day, -1 when the person has none."""
    cd = w.email_change_day[person]
    i = np.where((cd != NULL) & (day >= cd), person + w.n, person)
    return np.where(w.has_email[person], i, -1)


def phone_at(w: World, person: np.ndarray, day: np.ndarray) -> np.ndarray:
    cd = w.phone_change_day[person]
    return np.where((cd != NULL) & (day >= cd), w.phone_new[person], w.phone_old[person])


# ----------------------------------------------------------------------- organisations

def _organisations(w: World) -> None:
    rng = w.cfg.rng("organisations")
    n = w.n
    k = max(5, n // 150)
    w.n_org = k
    word = rng.integers(0, len(vocab.ORG_WORDS), k)
    sur = rng.integers(0, len(vocab.SURNAMES), k)
    suffix = rng.integers(0, len(vocab.ORG_SUFFIXES), k)
    w.org_name = [f"{vocab.SURNAMES[s]} {vocab.ORG_WORDS[x][0]} {vocab.ORG_SUFFIXES[f]}" for s, x, f in zip(sur, word, suffix)]
    w.org_domain = [f"{vocab.SURNAMES[s].lower()}{vocab.ORG_WORDS[x][0].lower()}{i}.com.ng" for i, (s, x) in enumerate(zip(sur, word))]
    w.org_industry = [vocab.ORG_WORDS[x][1] for x in word]
    w.org_city = pick(rng, k, [c[1] for c in vocab.CITIES])
    w.org_regno = affine(np.arange(k), 9_000_000, _coprime(9_000_000, 7_777_777), 1_000_000) + 100_000
    n_am = max(3, k // 40)
    w.am_first = rng.integers(0, len(FIRST), n_am)
    w.am_last = rng.integers(0, len(vocab.SURNAMES), n_am)
    w.org_am = rng.integers(0, n_am, k)
    w.org_am2 = np.where(rng.random(k) < 0.2, rng.integers(0, n_am, k), -1)  # account manager change
    span = max(w.end - w.start, 2)
    w.org_am2_day = w.start + rng.integers(1, span, k)
    w.org_scheme = rng.random(k) < 0.25
    w.org_scheme_day = w.start + rng.integers(min(30, span // 3), max(span - 30, span // 3 + 1), k)
    w.org_created = np.where(rng.random(k) < 0.8, w.start - rng.integers(30, 3000, k), w.start + rng.integers(0, span, k))
    w.org_created = np.minimum(w.org_created, w.org_scheme_day - 1)
    w.org_key_account = rng.random(k) < 0.3
    # small worlds still get one employer scheme and one key account (the largest employer)
    w.org_scheme[0] = True
    w.org_key_account[0] = True
    # employees: ~18% of people work for one of the organisations (Zipf-ish sizes)
    weights = 1.0 / (np.arange(k) + 3.0)
    employed = rng.random(n) < 0.18
    employer = np.full(n, -1, np.int64)
    employer[employed] = pick(rng, int(employed.sum()), weights)
    # contacts: 1-3 per organisation, drawn from the people, who then work there
    n_contacts = rng.integers(1, 4, k)
    total = int(n_contacts.sum())
    people = rng.choice(n, size=min(total, n), replace=False)
    org_of_contact = np.repeat(np.arange(k), n_contacts)[: len(people)]
    employer[people] = org_of_contact
    w.contact_person = people
    w.contact_org = org_of_contact
    w.org_employees = np.bincount(employer[employer >= 0], minlength=k)
    w.arrays["employer"] = employer


# --------------------------------------------------------------------------- campaigns

def _campaigns(w: World) -> Campaigns:
    rng = w.cfg.rng("campaigns")
    acq_channels = ("email", "sms", "web", "mobile", "branch", "post", "field_sales", "call_centre", "partner")
    start_m = np.datetime64(w.cfg.start, "M") - 1
    end_m = np.datetime64(w.cfg.end, "M")
    rows = []
    seq_acq = 0
    m = start_m
    while m <= end_m:
        m0 = int((m.astype("datetime64[D]") - np.datetime64("1970-01-01")).astype(int))
        plan = [("acquisition", acq_channels[(seq_acq + j) % len(acq_channels)]) for j in range(3)]
        seq_acq += 3
        plan += [("cross_sell", "email"), ("retention", ("email", "sms")[int(rng.integers(0, 2))]),
                 ("win_back", ("email", "sms", "call_centre")[int(rng.integers(0, 3))])]
        for j, (obj, chan) in enumerate(plan, start=1):
            s = m0 + int(rng.integers(0, 10))
            e = min(s + int(rng.integers(14, 46)), w.end)
            if s > w.end:
                continue
            ym = str(m)
            code = f"CMP{ym[2:4]}{ym[5:7]}{j:02d}"
            cost = int(rng.integers(2_000_000, 20_000_000) if obj == "acquisition" else rng.integers(200_000, 5_000_000)) * 100
            created = (s - int(rng.integers(3, 21))) * DAY + int(rng.integers(8, 18)) * 3600 + int(rng.integers(0, 3600))
            rev_day = e + int(rng.integers(1, 6))
            revised = rev_day * DAY + int(rng.integers(8, 18)) * 3600 if rev_day <= w.end else NULL
            rcost = int(cost * rng.uniform(0.9, 1.2)) // 100 * 100
            month_name = m.astype("datetime64[D]").item().strftime("%b %Y")
            name = f"{obj.replace('_', ' ').title()} {month_name} {chan.replace('_', ' ')}"
            rows.append((code, name, w.ch(chan), Campaigns.OBJECTIVES.index(obj), s, e, cost, created, revised, rcost))
        m += 1
    cols = list(zip(*rows))
    return Campaigns(list(cols[0]), list(cols[1]), *(np.array(c, np.int64) for c in cols[2:]))


# --------------------------------------------------------------------------- lifecycle

def _lifecycle(w: World) -> None:
    rng = w.cfg.rng("lifecycle")
    n, start, end = w.n, w.start, w.end
    span = end - start + 1
    c = w.campaigns
    seg = pick(rng, n, (0.40, 0.24, 0.36))  # 0 customer before start, 1 joins in period, 2 prospect
    via_lead = (seg == 1) & (rng.random(n) < 0.7)
    scheme = np.full(n, -1, np.int64)
    member = (seg >= 1) & (rng.random(n) < 0.05)
    scheme[member] = rng.integers(0, len(vocab.SCHEMES), int(member.sum()))
    has_lead = via_lead | (seg == 2) | member
    lead_day = np.full(n, NULL, np.int64)
    lead_campaign = np.full(n, -1, np.int64)
    acq = c.of("acquisition")
    acq = acq[(c.end_day[acq] >= start) & (c.start_day[acq] <= end)]
    pick_c = acq[rng.integers(0, len(acq), n)]
    lo = np.maximum(c.start_day[pick_c], start)
    hi = np.minimum(c.end_day[pick_c], end)
    lead_day = np.where(has_lead, lo + (rng.random(n) * (hi - lo + 1)).astype(np.int64), NULL)
    lead_campaign = np.where(has_lead & ~member, pick_c, -1)
    lead_day = np.where(member, start + rng.integers(0, span, n), lead_day)

    became = np.full(n, NULL, np.int64)
    became = np.where(seg == 0, start - rng.integers(30, 3650, n), became)
    lag = np.minimum(rng.geometric(1 / 25, n), 120)
    converts = (seg == 1) & (via_lead | member)
    became = np.where(converts, lead_day + lag, became)
    became = np.where((seg == 1) & ~converts, start + rng.integers(0, span, n), became)
    late = (became != NULL) & (became > end)
    seg = np.where(late, 2, seg)
    became = np.where(late, NULL, became)

    sale = np.array([w.ch(x) for x in SALE_CHANNELS])
    chan_map = {w.ch("web"): w.ch("web"), w.ch("mobile"): w.ch("mobile"), w.ch("branch"): w.ch("branch"),
                w.ch("field_sales"): w.ch("field_sales"), w.ch("call_centre"): w.ch("call_centre"),
                w.ch("partner"): w.ch("partner")}
    lut = np.full(len(w.channels), -1)
    for k_, v in chan_map.items():
        lut[k_] = v
    direct = sale[pick(rng, n, (0.55, 0.2, 0.15, 0.05, 0.03, 0.02))]
    digital_or_branch = sale[pick(rng, n, (0.45, 0.3, 0.25, 0, 0, 0))]
    from_campaign = np.where(lead_campaign >= 0, lut[c.channel[np.maximum(lead_campaign, 0)]], -1)
    acq_channel = np.where(from_campaign >= 0, from_campaign, digital_or_branch)
    acq_channel = np.where(seg == 0, direct, acq_channel)
    acq_channel = np.where((seg == 1) & ~converts, digital_or_branch, acq_channel)
    acq_channel = np.where(member & (seg == 1), w.ch("partner"), acq_channel)
    acq_campaign = np.where((seg == 1) & converts & ~member, lead_campaign, -1)

    # employer schemes move all their staff on one day
    emp = w.employer
    staff = (emp >= 0) & w.org_scheme[np.maximum(emp, 0)]
    sday = w.org_scheme_day[np.maximum(emp, 0)]
    joins = staff & ((became == NULL) | (became > sday))
    became = np.where(joins, sday, became)
    seg = np.where(joins, 1, seg)
    acq_channel = np.where(joins, w.ch("partner"), acq_channel)
    acq_campaign = np.where(joins, -1, acq_campaign)
    customer = became != NULL

    attr = customer & (became < end - 60) & (rng.random(n) < 0.08)
    a_lo = np.maximum(became + 60, start)
    attrited = np.where(attr & (a_lo < end), a_lo + (rng.random(n) * np.maximum(end - a_lo, 1)).astype(np.int64), NULL)
    # staff are not attrited before their employer moves them
    attrited = np.where(staff & (attrited != NULL) & (attrited <= sday + 1), NULL, attrited)
    close_reason = np.where(attrited != NULL, pick(rng, n, (0.8, 0.1, 0.0, 0.1)), -1)  # competitor moved deceased other
    wb = (attrited != NULL) & (attrited <= end - 90) & (rng.random(n) < 0.3)
    gap = np.minimum(400, end - np.where(wb, attrited, 0))
    won_back = np.where(wb, attrited + 60 + (rng.random(n) * np.maximum(gap - 60, 1)).astype(np.int64), NULL)
    won_back = np.where(won_back > end, NULL, won_back)
    wb_campaign = np.where(won_back != NULL, c.latest_started("win_back", np.where(won_back != NULL, won_back, 0)), -1)

    modulus = 10**10
    acct = np.where(customer, affine(np.arange(n), modulus, 2654435761, 7_000_000_123), NULL)

    # channel habits
    uses_web = rng.random(n) < 0.6
    uses_app = rng.random(n) < 0.6
    uses_branch = rng.random(n) < np.where(uses_web | uses_app, 0.35, 0.8)
    caller = rng.random(n) < 0.3
    # purchase process (BG/NBD + Gamma-Gamma), per person
    lam = rng.gamma(1.5, 1 / (1.5 * 30), n)  # purchases per day while alive
    p_drop = rng.beta(0.4, 25, n)
    gg_p, gg_q, gg_gamma = 4.0, 3.0, 15000.0
    nu = rng.gamma(gg_q, 1 / gg_gamma, n)
    w.gg = (gg_p, gg_q, gg_gamma)
    w.arrays.update(seg=seg, has_lead=lead_day != NULL, lead_day=lead_day, lead_campaign=lead_campaign, scheme=scheme,
                    became=became, customer=customer, acq_channel=np.where(customer, acq_channel, -1),
                    acq_campaign=np.where(customer, acq_campaign, -1), attrited=attrited, close_reason=close_reason,
                    won_back=won_back, wb_campaign=wb_campaign, acct=acct, uses_web=uses_web & w.has_email,
                    uses_app=uses_app & w.has_phone, uses_branch=uses_branch, caller=caller,
                    lam=lam, p_drop=p_drop, nu=nu, mean_spend=gg_p / nu, staff=staff, scheme_day=np.where(staff, sday, NULL))


def _channel_registrations(w: World) -> None:
    """When each person registered on the web portal and in the app (NULL = never)."""
    rng = w.cfg.rng("registrations")
    n, start, end = w.n, w.start, w.end
    span = end - start + 1

    def reg(mask: np.ndarray, prospect_share: float) -> np.ndarray:
        day = np.full(n, NULL, np.int64)
        existing = mask & (w.seg == 0)
        before = existing & (rng.random(n) < 0.65)
        day = np.where(before, start - rng.integers(1, 1500, n), day)
        day = np.where(existing & ~before, start + rng.integers(0, span, n), day)
        new = mask & (w.seg == 1)
        day = np.where(new, np.clip(w.became + rng.integers(-20, 60, n), start, end + 1), day)
        pros = mask & (w.seg == 2) & w.has_lead & (rng.random(n) < prospect_share)
        day = np.where(pros, w.lead_day + rng.integers(0, 30, n), day)
        return np.where(day > end, NULL, day)

    w.arrays["web_reg"] = reg(w.uses_web, 0.5)
    w.arrays["app_reg"] = reg(w.uses_app, 0.35)


# ---------------------------------------------------------------------------- holdings

def _holdings(w: World) -> Holdings:
    rng = w.cfg.rng("holdings")
    n, start, end = w.n, w.start, w.end
    P = w.prod
    cust = np.flatnonzero(w.customer)
    primary_mix = {"CUR_STD": 45, "SAV_EASY": 20, "CUR_PREM": 8, "CARD_CLASSIC": 10, "CARD_GOLD": 3,
                   "LOAN_PERS": 6, "INS_LIFE": 4, "SAV_FIXED": 4}
    cross_mix = {"CARD_CLASSIC": 25, "SAV_FIXED": 15, "INS_LIFE": 12, "INS_HOME": 10, "LOAN_PERS": 15,
                 "LOAN_AUTO": 8, "MORT_HOME": 5, "CARD_GOLD": 5, "SAV_EASY": 5}
    pcodes = np.array([P(k) for k in primary_mix])
    ccodes = np.array([P(k) for k in cross_mix])
    parts = []

    def add(person, product, sday, channel, campaign, kind, sponsor=None, scheme=None, payer=None):
        m = len(person)
        parts.append(dict(person=person, product=product, start_day=sday, channel=channel, campaign=campaign,
                          kind=np.full(m, kind), sponsor_org=sponsor if sponsor is not None else np.full(m, -1),
                          scheme=scheme if scheme is not None else np.full(m, -1),
                          payer=payer if payer is not None else np.full(m, -1)))

    # primary holding at the customer moment
    staff_join = w.staff[cust] & (w.became[cust] == w.scheme_day[cust])
    prod = pcodes[pick(rng, len(cust), list(primary_mix.values()))]
    prod = np.where(staff_join, P("CUR_STD"), prod)
    member = w.scheme[cust] >= 0
    prod = np.where(member & ~staff_join, np.where(rng.random(len(cust)) < 0.6, P("CUR_PREM"), P("SAV_EASY")), prod)
    head = w.hh_first[w.hh[cust]]
    head_pays = (~w.hh_head[cust]) & w.customer[head] & (w.seg[head] == 0) & (w.attrited[head] == NULL) & (rng.random(len(cust)) < 0.25)
    payer = np.where(head_pays, head, -1)
    add(cust, prod, w.became[cust], w.acq_channel[cust], w.acq_campaign[cust], 0,
        sponsor=np.where(staff_join, w.employer[cust], -1), scheme=np.where(member, w.scheme[cust], -1), payer=payer)
    # employer scheme holdings for staff who were already customers
    st = np.flatnonzero(w.staff & w.customer & (w.became < w.scheme_day))
    st = st[(w.attrited[st] == NULL) | (w.attrited[st] > w.scheme_day[st])]
    add(st, np.full(len(st), P("CUR_STD")), w.scheme_day[st], np.full(len(st), w.ch("partner")), np.full(len(st), -1), 1,
        sponsor=w.employer[st])
    # cross-sell
    cs = cust[rng.random(len(cust)) < 0.3]
    lo = np.maximum(w.became[cs], start) + 30
    ok = lo < end
    cs, lo = cs[ok], lo[ok]
    day = lo + (rng.random(len(cs)) * (end - lo)).astype(np.int64)
    keep = (w.attrited[cs] == NULL) | (day < w.attrited[cs])
    cs, day = cs[keep], day[keep]
    camp = np.where(rng.random(len(cs)) < 0.4, w.campaigns.latest_started("cross_sell", day), -1)
    chans = np.array([w.ch(x) for x in ("branch", "web", "mobile", "call_centre")])
    add(cs, ccodes[pick(rng, len(cs), list(cross_mix.values()))], day, chans[rng.integers(0, 4, len(cs))], camp, 2)
    # win-back holdings
    wb = np.flatnonzero(w.won_back != NULL)
    add(wb, pcodes[pick(rng, len(wb), list(primary_mix.values()))], w.won_back[wb], chans[rng.integers(0, 4, len(wb))],
        w.wb_campaign[wb], 3)

    cols = {k: np.concatenate([p[k] for p in parts]).astype(np.int64) for k in parts[0]}
    order = np.lexsort((cols["person"], cols["start_day"]))
    cols = {k: v[order] for k, v in cols.items()}
    m = len(cols["person"])
    att = w.attrited[cols["person"]]
    closes = (att != NULL) & (cols["start_day"] < att) & (cols["kind"] != 3)
    end_day = np.where(closes, att, NULL)
    open_sec = cols["start_day"] * DAY + rng.integers(8 * 3600, 18 * 3600, m)
    close_sec = np.where(closes, end_day * DAY + rng.integers(8 * 3600, 18 * 3600, m), NULL)
    same = closes & (close_sec <= open_sec)
    close_sec = np.where(same, open_sec + 600, close_sec)
    return Holdings(person=cols["person"], product=cols["product"], start_day=cols["start_day"], end_day=end_day,
                    sponsor_org=cols["sponsor_org"], scheme=cols["scheme"], channel=cols["channel"],
                    campaign=cols["campaign"], payer=cols["payer"], kind=cols["kind"], open_sec=open_sec,
                    close_sec=close_sec)
