"""The alert on an actor that declines or lets expire too many proposals in a quarter:
raised at the threshold, with enough proposals, once per actor and quarter."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from services.resources.domain.alerts import quarter_of
from services.resources.service_layer import alerts, reports
from shared.contracts.base import EventPayload
from shared.contracts.resources import ActorAlertRaised
from shared.refdata import get_territories
from tests.support.events import assignment_declined, assignment_expired, assignment_proposed
from tests.unit.fakes.resources import FakeUnitOfWork

NOW = datetime(2027, 5, 20, 12, 0, tzinfo=UTC)
LATE = {"actor_id": "late-49", "actor_name": "Bureau lent"}
FINE = {"actor_id": "fine-49", "actor_name": "Bureau fiable"}


def proposals(actor: dict[str, str], n: int, refused: int, at: datetime) -> list[EventPayload]:
    events: list[EventPayload] = []
    for i in range(n):
        assignment = {"assignment_id": uuid.uuid4(), "request_id": uuid.uuid4()} | actor
        events.append(assignment_proposed(**assignment, proposed_at=at))
        if i < refused:
            done = at + timedelta(days=1)
            events.append(
                assignment_declined(**assignment, declined_at=done)
                if i % 2
                else assignment_expired(**assignment, expired_at=done)
            )
    return events


async def test_an_actor_past_the_threshold_is_signalled_once_per_quarter() -> None:
    uow = FakeUnitOfWork()
    april = datetime(2027, 4, 10, tzinfo=UTC)
    history = (
        proposals(LATE, 6, 2, april)  # 2/6 = 33 %: over 30 %
        + proposals(FINE, 10, 2, april)  # 20 %
        + proposals(LATE, 4, 4, april - timedelta(days=60))  # last quarter: not counted
        + proposals({"actor_id": "new-49", "actor_name": "Nouveau"}, 2, 2, april)  # too few
    )
    await reports.replay(uow, [(str(uuid.uuid4()), e) for e in history], get_territories())
    raised = await alerts.raise_alerts(uow, NOW, Decimal("0.30"), 5)
    assert [(a.actor_id, a.quarter, a.proposals, a.refused, a.rate) for a in raised] == [
        ("late-49", "2027-T2", 6, 2, Decimal("0.3333"))
    ]
    assert await alerts.raise_alerts(uow, NOW + timedelta(hours=1), Decimal("0.30"), 5) == []
    events = [p for _, p in uow.published if isinstance(p, ActorAlertRaised)]
    assert [(e.departement, e.actor_name, e.threshold) for e in events] == [
        ("49", "Bureau lent", Decimal("0.30"))
    ]
    assert quarter_of(datetime(2027, 12, 31, 23, 30, tzinfo=UTC)) == "2028-T1"
