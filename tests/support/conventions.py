"""A convention's way through the billing API, for the tests that need a signed one
before a mission may be invoiced: wait until billing prepared it, send it, sign it."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import httpx

from services.billing.service_layer import conventions
from services.billing.service_layer.ports import UnitOfWork
from shared.auth.tokens import Principal, Role
from shared.contracts.matching import AssignmentCompleted
from shared.messaging.envelope import Envelope
from shared.refdata import get_territories
from tests.support import events
from tests.support.tokens import bearer


async def wait_convention(
    client: httpx.AsyncClient, departement: str, demande_id: UUID | str, timeout: float = 30.0
) -> dict[str, Any]:
    """The demande's convention, once billing has prepared it from the acceptance."""
    team = bearer(Role.DEPARTEMENT, departement)
    deadline = time.monotonic() + timeout
    while True:
        response = await client.get(f"/v1/conventions?demande_id={demande_id}", headers=team)
        assert response.status_code == 200, response.text
        found: list[dict[str, Any]] = response.json()
        if found:
            return found[0]
        assert time.monotonic() < deadline, f"no convention for demande {demande_id}"
        await asyncio.sleep(0.1)


async def send_and_sign(
    client: httpx.AsyncClient,
    convention: dict[str, Any],
    engagement_number: str = "EJ-TEST-1",
    service_code: str | None = None,
    estimated_days: str | None = None,
) -> dict[str, Any]:
    """The team sends the convention, the collectivité signs it; the signed convention."""
    team = bearer(Role.DEPARTEMENT, convention["departement"])
    body = {"estimated_days": estimated_days} if estimated_days else None
    sent = await client.post(f"/v1/conventions/{convention['id']}/send", json=body, headers=team)
    assert sent.status_code == 200, sent.text
    signatory = bearer(
        Role.COLLECTIVITE, convention["departement"], convention["collectivite_code"]
    )
    signature: dict[str, Any] = {"engagement_number": engagement_number}
    if service_code:
        signature["service_code"] = service_code
    signed = await client.post(
        f"/v1/conventions/{convention['id']}/sign", json=signature, headers=signatory
    )
    assert signed.status_code == 200, signed.text
    result: dict[str, Any] = signed.json()
    return result


async def sent_convention(
    unit_of_work: Callable[[], UnitOfWork],
    event: AssignmentCompleted,
    accepted_at: datetime | None = None,
) -> UUID:
    """Through billing's own use cases (no broker, no HTTP): the convention of the lead
    acceptance that came before ``event``, prepared and sent by the team; its id."""
    accepted = events.accepted_before(
        event, **({"accepted_at": accepted_at} if accepted_at else {})
    )
    envelope = Envelope(type=accepted.event_type, source="matching", departement="00")
    now = datetime.now(UTC)
    async with unit_of_work() as uow:
        prepared = await conventions.prepare_convention(
            uow, accepted, envelope, get_territories(), now
        )
        await uow.commit()
    assert prepared is not None
    team = Principal(Role.DEPARTEMENT, "equipe", event.departement)
    async with unit_of_work() as uow:
        await conventions.send_convention(uow, team, prepared.id, now)
    return prepared.id


async def sign_for_completions(
    unit_of_work: Callable[[], UnitOfWork], completions: Sequence[AssignmentCompleted]
) -> None:
    """For each completion to come, its lead acceptance's convention, prepared, sent by
    the team, signed."""
    for event in completions:
        convention_id = await sent_convention(unit_of_work, event)
        signatory = Principal(
            Role.COLLECTIVITE, "elu", event.departement, scope=event.requester_code
        )
        async with unit_of_work() as uow:
            await conventions.sign_convention(
                uow,
                signatory,
                convention_id,
                datetime.now(UTC),
                engagement_number="EJ-TEST",
                service_code=None,
                siret=None,
            )
