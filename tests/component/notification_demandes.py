"""Demandes of the notifications email tests: their events as the other services publish
them, and how to find what the service sent for them."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from services.notifications.config import NotificationSettings
from services.notifications.domain.model import Channel, notification_id
from shared.auth.tokens import Role
from shared.contracts.base import EventPayload
from shared.contracts.billing import InvoiceIssued
from shared.contracts.matching import (
    AssignmentAccepted,
    AssignmentCompleted,
    AssignmentProposed,
)
from shared.contracts.requests import Contact, Requester, RequestSubmitted
from shared.contracts.vocabulary import RequesterKind
from shared.http.ssrf import Resolver
from shared.messaging.envelope import Envelope
from shared.settings import KafkaSettings
from tests.support import events
from tests.support.kafka_tap import Record, publish_raw
from tests.support.services import RunningService, running_service
from tests.support.smtp_server import Mail, SmtpSink
from tests.support.tokens import bearer

# The broker is shared: services of other runs (a demo, a benchmark) may react to this
# test's events, and this service to theirs. Mayotte's offer is in no shipped catalogue, so
# nobody proposes actors for these demandes; and the assertions follow Message-IDs, derived
# from this test's own event ids, rather than counting what an address received.
DEP = "976"
TEAM = bearer(Role.DEPARTEMENT, DEP)
ADMIN = bearer(Role.ADMIN, None)
NEED = events.NEED
TEAM_ADDRESS = f"equipe-{uuid.uuid4().hex[:8]}@mayotte.example.fr"


def settings_for(smtp: SmtpSink, **overrides: Any) -> NotificationSettings:
    values: dict[str, Any] = {
        "smtp_port": smtp.port,
        # Other runs on the shared broker may bring a flood of their demandes: drain it fast.
        "smtp_concurrency": 16,
        "dispatch_poll_seconds": 0.1,
        "backoff_base_seconds": 0.2,
        "backoff_max_seconds": 1.0,
        "max_attempts": 3,
        "schedule_scan_seconds": 3600,
        "digest_scan_seconds": 3600,
        "digest_hour": 0,
    }
    return NotificationSettings(**(values | overrides))


@asynccontextmanager
async def notifications_service(
    fresh_database: Callable[[str], Awaitable[str]],
    kafka: KafkaSettings,
    settings: NotificationSettings,
    team_address: str = TEAM_ADDRESS,
    resolver: Resolver | None = None,
) -> AsyncIterator[RunningService]:
    """A notifications service with ``settings``, the address of the team of ``DEP`` known;
    ``resolver`` answers its webhook guard's DNS questions."""
    options = {"settings": settings, "resolver": resolver}
    async with running_service(
        "notifications", fresh_database, kafka, build_options=options
    ) as running:
        saved = await running.client.put(
            f"/v1/teams/{DEP}/contact", json={"email": team_address}, headers=TEAM
        )
        assert saved.status_code == 200, saved.text
        yield running


async def preferences_url(
    client: httpx.AsyncClient, email: str, headers: dict[str, str], departement: str = DEP
) -> str:
    """Where the preferences of ``email`` in ``departement`` are, by the contact's opaque id
    (ADR 0021: no address in a URL)."""
    found = await client.post(
        f"/v1/departements/{departement}/contacts/search", json={"email": email}, headers=headers
    )
    assert found.status_code == 200, found.text
    return f"/v1/departements/{departement}/contacts/{found.json()['contact_id']}/preferences"


# --- events, as the other services publish them --------------------------------------------


async def publish(
    kafka: KafkaSettings, payload: EventPayload, envelope: Envelope | None = None
) -> Envelope:
    envelope, record = events.as_record(payload, envelope)
    await publish_raw(kafka, payload.topic, [record])
    return envelope


class Demande:
    """One demande of a test, with unique ids and addresses."""

    def __init__(self, contact: str | None = None, title: str = "", departement: str = DEP):
        tag = uuid.uuid4().hex[:8]
        self.tag = tag
        self.departement = departement
        self.request_id = uuid.uuid4()
        self.assignment_id = uuid.uuid4()
        self.actor_id = f"caue-{tag}"
        self.contact = contact or f"marie.{tag}@example.fr"
        # A requester code of its own: other runs on the shared broker may invoice the
        # real commune, and an invoice finds its contact through the collectivité's code.
        self.code = f"t{tag}"
        self.title = title or f"Rénovation de la salle des fêtes {tag}"
        self.now = datetime.now(UTC)

    def _ids(self) -> dict[str, object]:
        return {
            "assignment_id": self.assignment_id,
            "request_id": self.request_id,
            "departement": self.departement,
            "actor_id": self.actor_id,
            "actor_name": "CAUE de la Vendée",
        }

    def submitted(self) -> RequestSubmitted:
        return events.request_submitted(
            request_id=self.request_id,
            departement=self.departement,
            requester=Requester(
                kind=RequesterKind.COMMUNE, code=self.code, name="La Roche-sur-Yon", population=1
            ),
            contact=Contact(name="Marie Dupont", email=self.contact),
            title=self.title,
            submitted_at=self.now,
        )

    def proposed(self, **overrides: Any) -> AssignmentProposed:
        values = self._ids() | {
            "requester_code": self.code,
            "reasons": "Couvre 1 besoin sur 1 (bâtiments publics).",
            "respond_by": self.now + timedelta(days=7),
            "proposed_at": self.now,
        }
        return events.assignment_proposed(**(values | overrides))

    def accepted(self) -> AssignmentAccepted:
        return events.assignment_accepted(**self._ids(), accepted_at=self.now)

    def completed(self) -> AssignmentCompleted:
        return events.assignment_completed(
            **self._ids(), requester_code=self.code, started_at=self.now, completed_at=self.now
        )

    def invoice(self) -> InvoiceIssued:
        return events.mission_invoice(
            number=f"{self.departement}-2027-{self.tag}",
            departement=self.departement,
            collectivite_code=self.code,
            collectivite_name="La Roche-sur-Yon",
            issued_at=self.now,
            request_id=self.request_id,
            assignment_id=self.assignment_id,
        )


def expected_id(envelope: Envelope, recipient: str) -> str:
    return f"<{notification_id(envelope.id, recipient, Channel.EMAIL)}@matiere-grise.local>"


def once(smtp: SmtpSink, message_id: str) -> Mail:
    [mail] = smtp.with_id(message_id)
    return mail


async def until_listed(
    service: RunningService, check: Callable[[list[dict[str, Any]]], bool], **params: str
) -> list[dict[str, Any]]:
    """The service's deliveries of ``DEP`` once ``check`` holds for them."""
    deadline = time.monotonic() + 20
    while True:
        response = await service.client.get(
            "/v1/deliveries", params={"departement": DEP, "limit": "500"} | params, headers=TEAM
        )
        rows: list[dict[str, Any]] = response.json()
        if check(rows):
            return rows
        if time.monotonic() > deadline:
            raise TimeoutError(f"deliveries {params} never met the condition")
        await asyncio.sleep(0.1)


def kinds(mails: list[Mail]) -> list[str]:
    return [str(m.message["X-MG-Kind"]) for m in mails]


def outcomes(records: list[Record], ids: set[str]) -> list[dict[str, Any]]:
    return [
        {"type": r.headers["ce_type"]} | r.json()
        for r in records
        if r.json().get("notification_id") in ids
    ]
