"""The one line a service representative reads first: who is calling, and what to do about it.

"Customer since 2019 · Platinum · 2 open complaints · at risk": tenure, value, grievances,
churn risk. Each part comes from one field; a field that is not computed yet (segments, CLV)
leaves its part out rather than guessing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any, Mapping

# Lifecycle stages (analytics.customer_segments) that mean "this customer may leave".
RISK_STAGES = {"at_risk": "at risk", "at risk": "at risk", "lapsed": "lapsed"}
# Below this probability of still being active (BG/NBD p_alive), the customer is at risk.
AT_RISK_P_ALIVE = 0.5
VALUABLE_TIERS = {"platinum", "gold"}


@dataclass(frozen=True)
class Headline:
    parts: tuple[str, ...]
    at_risk: bool
    valuable: bool
    open_complaints: int

    @property
    def text(self) -> str:
        return " · ".join(self.parts)

    @property
    def needs_care(self) -> bool:
        """A valuable customer at risk, or anyone with an open complaint: act on this call."""
        return self.open_complaints > 0 or (self.valuable and self.at_risk)


def churn_risk(p_alive: float | None) -> float | None:
    """1 − p_alive: the model's probability that the customer has already gone quiet for good."""
    return None if p_alive is None else round(1.0 - float(p_alive), 4)


def risk_label(lifecycle_stage: str | None, p_alive: float | None) -> str | None:
    """'at risk' / 'lapsed' from the lifecycle stage, else 'at risk' when p_alive is low; None otherwise."""
    if lifecycle_stage and lifecycle_stage.lower() in RISK_STAGES:
        return RISK_STAGES[lifecycle_stage.lower()]
    if p_alive is not None and float(p_alive) < AT_RISK_P_ALIVE:
        return "at risk"
    return None


def _tenure(status: str | None, customer_since: date | None, party_type: str | None) -> str:
    if party_type == "organisation" or status == "organisation":
        return f"Organisation, customer since {customer_since.year}" if customer_since else "Organisation"
    if customer_since is not None:
        if status == "closed":
            return f"Former customer (since {customer_since.year})"
        if status == "inactive":
            return f"Customer since {customer_since.year}, no recent activity"
        return f"Customer since {customer_since.year}"
    if status == "prospect":
        return "Prospect (never held a product)"
    if status == "contact" or party_type == "unidentified":
        return "Contact only (not registered)"
    return "Not a customer"


def build_headline(record: Mapping[str, Any]) -> Headline:
    """Headline from the golden record plus, when present, value_tier, lifecycle_stage and p_alive."""
    complaints = int(record.get("open_complaints") or 0)
    tier = record.get("value_tier")
    risk = risk_label(record.get("lifecycle_stage"), record.get("p_alive"))
    parts = [_tenure(record.get("customer_status"), record.get("customer_since"), record.get("party_type"))]
    if tier:
        parts.append(str(tier).capitalize())
    parts.append({0: "no open complaints", 1: "1 open complaint"}.get(complaints, f"{complaints} open complaints"))
    if risk:
        parts.append(risk)
    return Headline(parts=tuple(parts), at_risk=risk is not None,
                    valuable=bool(tier) and str(tier).lower() in VALUABLE_TIERS, open_complaints=complaints)
