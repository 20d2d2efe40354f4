"""Behaviour over time: the purchase process (BG/NBD), lapse, and activity windows.

Purchases come from each customer's own Poisson rate with a per-purchase dropout chance
(BG/NBD) and Gamma-Gamma spend, so the CLV model downstream has a true answer to recover.
A customer who drops out has *lapsed*: no purchases after that day, and the other channels go
quiet a month later.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .render import NULL
from .world import DAY, World


def poisson_events(rng: np.random.Generator, persons: np.ndarray, rate, a: np.ndarray, b: np.ndarray,
                   hours: tuple[int, int] = (7, 22)) -> tuple[np.ndarray, np.ndarray]:
    """Events of a Poisson process per person on days [a, b): (person, epoch seconds)."""
    length = np.maximum(b - a, 0)
    k = rng.poisson(np.asarray(rate) * length)
    rep = np.repeat(np.arange(len(persons)), k)
    day = a[rep] + (rng.random(len(rep)) * length[rep]).astype(np.int64)
    sec = day * DAY + rng.integers(hours[0] * 3600, hours[1] * 3600, len(rep))
    return persons[rep], sec


@dataclass
class Purchases:
    person: np.ndarray
    sec: np.ndarray
    cents: np.ndarray
    window: np.ndarray  # 1 first relationship, 2 after a win-back


def simulate_purchases(w: World) -> Purchases:
    rng = w.cfg.rng("purchases")
    cust = np.flatnonzero(w.customer)
    a1 = np.maximum(w.became[cust], w.start)
    b1 = np.where(w.attrited[cust] != NULL, w.attrited[cust], w.end + 1)
    L1 = np.maximum(b1 - a1, 0)
    k = np.minimum(rng.poisson(w.lam[cust] * L1), 3000)
    g = rng.geometric(np.clip(w.p_drop[cust], 1e-6, 1.0))  # purchases until dropout (inclusive)
    rep = np.repeat(np.arange(len(cust)), k)
    day = a1[rep] + (rng.random(len(rep)) * L1[rep]).astype(np.int64)
    sec = day * DAY + rng.integers(7 * 3600, 22 * 3600, len(rep))
    order = np.lexsort((sec, rep))
    rep, sec = rep[order], sec[order]
    first = np.concatenate([[0], np.cumsum(k)[:-1]])
    rank = np.arange(len(rep)) - first[rep]
    keep = rank < g[rep]
    dropped = (k > 0) & (g <= k)
    lapsed = np.full(w.n, NULL, np.int64)
    last_idx = first[dropped] + g[dropped] - 1
    lapsed[cust[dropped]] = sec[last_idx] // DAY
    p1, s1 = cust[rep[keep]], sec[keep]
    # after a win-back: a fresh start, no dropout inside the period
    wb = np.flatnonzero(w.won_back != NULL)
    p2, s2 = poisson_events(rng, wb, w.lam[wb], w.won_back[wb], np.full(len(wb), w.end + 1))
    person = np.concatenate([p1, p2])
    secs = np.concatenate([s1, s2])
    gg_p = w.gg[0]
    spend = rng.gamma(gg_p, 1.0 / w.nu[person])
    cents = np.maximum(np.round(spend * 100).astype(np.int64), 5000)
    w.arrays["lapsed"] = lapsed
    return Purchases(person, secs, cents, np.concatenate([np.ones(len(p1), np.int8), np.full(len(p2), 2, np.int8)]))


def activity_windows(w: World) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per person two windows [a1, b1) and [a2, b2) of channel activity (empty when a >= b).

    Customers are active from their customer moment (or the period start) until attrition,
    or a month after they lapse; won-back customers again from the win-back. Prospects are
    active from lead capture, or from registering on a channel.
    """
    end1 = w.end + 1
    a1 = np.where(w.customer, np.maximum(w.became, w.start), NULL)
    reg = np.minimum(np.where(w.web_reg != NULL, w.web_reg, end1), np.where(w.app_reg != NULL, w.app_reg, end1))
    pros_start = np.where(w.has_lead, np.maximum(w.lead_day, w.start), np.maximum(reg, w.start))
    a1 = np.where(w.customer, a1, pros_start)
    b1 = np.full(w.n, end1, np.int64)
    b1 = np.where(w.attrited != NULL, w.attrited, b1)
    b1 = np.where(w.lapsed != NULL, np.minimum(b1, w.lapsed + 30), b1)
    a2 = np.where(w.won_back != NULL, w.won_back, 0)
    b2 = np.where(w.won_back != NULL, end1, 0)
    return a1, b1, a2, b2
