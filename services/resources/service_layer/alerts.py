"""Use case of the actor alerts: tell a département's team, once per quarter, about an
actor that declines or lets expire too many of its proposals."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from services.resources.domain.alerts import ActorAlert, actor_alerts, quarter_of, quarter_start
from services.resources.domain.report_facts import FactKind
from services.resources.service_layer.ports import UnitOfWork
from shared.contracts.resources import ActorAlertRaised

KINDS = [FactKind.PROPOSED, FactKind.DECLINED, FactKind.EXPIRED]


async def raise_alerts(
    uow: UnitOfWork, now: datetime, rate: Decimal, min_proposals: int
) -> list[ActorAlert]:
    """The alerts raised now (those of the quarter raised before are not raised again)."""
    facts = await uow.report_facts.since(quarter_start(now), KINDS)
    raised = []
    for alert in actor_alerts(facts, quarter_of(now), rate, min_proposals):
        if not await uow.report_facts.remember_alert(
            alert.departement, alert.actor_id, alert.quarter, now
        ):
            continue
        raised.append(alert)
        await uow.outbox.add(
            ActorAlertRaised(
                departement=alert.departement,
                actor_id=alert.actor_id,
                actor_name=alert.actor_name,
                quarter=alert.quarter,
                proposals=alert.proposals,
                refused=alert.refused,
                rate=alert.rate,
                threshold=rate,
                raised_at=now,
            ),
            departement=alert.departement,
        )
    await uow.commit()
    return raised
