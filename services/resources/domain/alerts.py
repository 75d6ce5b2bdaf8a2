"""Actors that decline or let expire too many of their proposals (issue 17, item 6): over a
calendar quarter, from the reports' facts, the share of proposals declined or expired."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from services.resources.domain.report_facts import Fact, FactKind
from shared.french import PARIS


@dataclass(frozen=True, slots=True)
class ActorAlert:
    departement: str
    actor_id: str
    actor_name: str
    quarter: str
    proposals: int
    refused: int

    @property
    def rate(self) -> Decimal:
        return (Decimal(self.refused) / self.proposals).quantize(Decimal("0.0001"))


def quarter_start(moment: datetime) -> datetime:
    local = moment.astimezone(PARIS)
    return datetime(local.year, 3 * ((local.month - 1) // 3) + 1, 1, tzinfo=PARIS)


def quarter_of(moment: datetime) -> str:
    local = moment.astimezone(PARIS)
    return f"{local.year}-T{(local.month - 1) // 3 + 1}"


def actor_alerts(
    facts: list[Fact], quarter: str, rate: Decimal, min_proposals: int
) -> list[ActorAlert]:
    """The actors of the quarter's proposals whose declined-or-expired share reaches
    ``rate``, with at least ``min_proposals`` proposals."""
    proposals = [
        f for f in facts if f.kind is FactKind.PROPOSED and quarter_of(f.occurred_at) == quarter
    ]
    ids = {p.subject for p in proposals}
    refused_ids = {
        f.subject
        for f in facts
        if f.kind in (FactKind.DECLINED, FactKind.EXPIRED) and f.subject in ids
    }
    count: Counter[tuple[str, str]] = Counter((p.departement, p.party) for p in proposals)
    refused: Counter[tuple[str, str]] = Counter(
        (p.departement, p.party) for p in proposals if p.subject in refused_ids
    )
    names = {(p.departement, p.party): p.data["actor_name"] for p in proposals}
    alerts = [
        ActorAlert(dep, actor, names[(dep, actor)], quarter, n, refused[(dep, actor)])
        for (dep, actor), n in sorted(count.items())
        if n >= min_proposals and Decimal(refused[(dep, actor)]) / n >= rate
    ]
    return alerts
