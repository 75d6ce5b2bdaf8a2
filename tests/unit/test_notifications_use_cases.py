"""The notifications use cases and the dispatcher on in-memory fakes: what an event
records, once, per recipient and preferences; contacts, preferences and subscriptions;
reminders, follow-ups and digests; the outcome of each attempt."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from services.notifications.config import NotificationSettings
from services.notifications.domain.delivery import DeliveryFailed
from services.notifications.domain.model import (
    Channel,
    DeliveryStatus,
    Digest,
    Kind,
    Preferences,
    Role,
)
from services.notifications.domain.views import ActorContact, DeliveryFilter
from services.notifications.service_layer import (
    contacts,
    deliveries,
    digests,
    events,
    reminders,
    webhooks,
)
from services.notifications.service_layer.dispatcher import Dispatcher
from shared.auth.tokens import Principal
from shared.auth.tokens import Role as PrincipalRole
from shared.contracts.base import EventPayload
from shared.contracts.notifications import DeliveryDeadLettered, DeliverySent
from shared.errors import Conflict, Forbidden, NotFound
from shared.messaging.envelope import Envelope
from tests.unit.fakes.notifications import DeliveryRow, FakeSender, FakeUnitOfWork, Tables
from tests.unit.notification_events import CARD, NOW, proposed, submitted

SETTINGS = NotificationSettings()
TEAM_49 = Principal(PrincipalRole.DEPARTEMENT, "agent", "49")
TEAM_44 = Principal(PrincipalRole.DEPARTEMENT, "agent", "44")
ADMIN = Principal(PrincipalRole.ADMIN, "admin", None)
CAUE = Principal(PrincipalRole.ACTOR, "caue49", "49", "caue49")
ACTOR_ADDRESS = "contact@caue49.fr"


def envelope(payload: EventPayload) -> Envelope:
    return Envelope(type=payload.event_type, source=payload.producer, departement="49")


async def record(
    tables: Tables, payload: EventPayload, now: datetime = NOW, env: Envelope | None = None
) -> tuple[int, FakeUnitOfWork]:
    """As the subscriber does: record in a unit of work, then commit."""
    uow = FakeUnitOfWork(tables)
    async with uow:
        recorded = await events.record_event(uow, env or envelope(payload), payload, SETTINGS, now)
        await uow.commit()
    return recorded, uow


def rows(tables: Tables, **where: Any) -> list[DeliveryRow]:
    def matches(row: DeliveryRow) -> bool:
        values = {"kind": row.new.kind, "role": row.new.role, "status": row.status}
        return all(values[k] == v for k, v in where.items())

    return [r for r in tables.deliveries.values() if matches(r)]


def summary(tables: Tables) -> list[tuple[Kind, Role, str | None, DeliveryStatus]]:
    return sorted((r.new.kind, r.new.role, r.address, r.status) for r in tables.deliveries.values())


async def with_actor_contact(tables: Tables) -> None:
    uow = FakeUnitOfWork(tables)
    await contacts.save_actor_contact(uow, CAUE, "caue49", None, ACTOR_ADDRESS.upper(), None, NOW)


# --- what an event records ---------------------------------------------------------------


async def test_a_demande_and_its_proposal_record_one_delivery_per_recipient_once() -> None:
    tables = Tables()
    await with_actor_contact(tables)
    first, _ = await record(tables, submitted())
    again, _ = await record(tables, submitted())
    # The same demande under another event id (a producer's retry): nothing new.
    other_id, _ = await record(tables, submitted(), env=envelope(submitted()))
    proposal, _ = await record(tables, proposed())
    assert (first, again, other_id, proposal) == (1, 0, 0, 2)
    assert summary(tables) == [
        (Kind.ACTEUR_PROPOSE, Role.REQUESTER, CARD.contact_email, DeliveryStatus.PENDING),
        (Kind.DEMANDE_RECUE, Role.REQUESTER, CARD.contact_email, DeliveryStatus.PENDING),
        (Kind.NOUVELLE_PROPOSITION, Role.ACTOR, ACTOR_ADDRESS, DeliveryStatus.PENDING),
    ]


async def test_an_actor_without_address_is_skipped_and_a_proposal_before_its_demande_waits() -> (
    None
):
    tables = Tables()
    await record(tables, proposed())
    assert summary(tables) == [
        (Kind.ACTEUR_PROPOSE, Role.REQUESTER, None, DeliveryStatus.AWAITING_RECIPIENT),
        (Kind.NOUVELLE_PROPOSITION, Role.ACTOR, None, DeliveryStatus.SKIPPED),
    ]
    assert rows(tables, role=Role.ACTOR)[0].reason == "no_actor_contact"
    await record(tables, submitted())
    [waited] = rows(tables, kind=Kind.ACTEUR_PROPOSE)
    assert (waited.address, waited.status) == (CARD.contact_email, DeliveryStatus.PENDING)
    assert waited.payload["demande_titre"] == CARD.title
    # Never heard of after all: given up once the limit has passed.
    lost = Tables()
    await record(lost, proposed(request_id=uuid.uuid4(), assignment_id=uuid.uuid4()))
    later = NOW + SETTINGS.awaiting_limit + timedelta(minutes=1)
    assert await reminders.give_up_awaiting(FakeUnitOfWork(lost), SETTINGS, later) == 1
    assert rows(lost, kind=Kind.ACTEUR_PROPOSE)[0].reason == "recipient_unknown"


async def daily_digest(uow: FakeUnitOfWork, address: str) -> None:
    found = await contacts.find_contact(uow, ADMIN, CARD.departement, address, NOW)
    daily = Preferences(digest=Digest.DAILY)
    await contacts.save_preferences(uow, ADMIN, CARD.departement, found.id, daily, NOW)


async def test_preferences_skip_or_hold_what_is_not_essential() -> None:
    tables = Tables()
    await record(tables, submitted())  # the address becomes a contact of the département
    uow = FakeUnitOfWork(tables)
    quiet = Preferences(opted_out=frozenset({Kind.ACTEUR_PROPOSE}), digest=Digest.DAILY)
    found = await contacts.find_contact(uow, TEAM_49, "49", CARD.contact_email, NOW)
    await contacts.save_preferences(uow, TEAM_49, "49", found.id, quiet, NOW)
    # Another département's team neither finds it nor reaches it by its id.
    with pytest.raises(NotFound):
        await contacts.find_contact(uow, TEAM_44, "49", CARD.contact_email, NOW)
    for departement in ("44", "49"):
        with pytest.raises(NotFound):
            await contacts.save_preferences(uow, TEAM_44, departement, found.id, quiet, NOW)
    assert (await contacts.read_preferences(uow, ADMIN, "49", found.id))[1] == quiet
    # The same address in another département is another contact, with its own choices.
    elsewhere = await contacts.find_contact(uow, ADMIN, "44", CARD.contact_email, NOW)
    assert elsewhere.id != found.id
    assert (await contacts.read_preferences(uow, ADMIN, "44", elsewhere.id))[1] == Preferences()
    await record(tables, proposed())
    [opted_out] = rows(tables, kind=Kind.ACTEUR_PROPOSE)
    assert (opted_out.status, opted_out.reason) == (DeliveryStatus.SKIPPED, "opted_out")
    accepted = Tables()
    await daily_digest(FakeUnitOfWork(accepted), CARD.contact_email)
    await record(accepted, submitted())
    assert [r.status for r in accepted.deliveries.values()] == [DeliveryStatus.HELD]


async def test_webhook_subscribers_get_the_event_as_a_cloud_event() -> None:
    tables = Tables()
    uow = FakeUnitOfWork(tables)
    created = await webhooks.subscribe_webhook(
        uow,
        TEAM_49,
        departement=None,
        url="https://hooks.example.fr/mg",
        event_types=[submitted().event_type, submitted().event_type],
        secret="s3cret-s3cret-s3cret",
        description=None,
        now=NOW,
    )
    assert (created.departement, created.event_types) == ("49", [submitted().event_type])
    assert [s.id for s in await webhooks.list_subscriptions(uow, TEAM_49)] == [created.id]
    with pytest.raises(NotFound):
        await webhooks.visible_subscription(uow, TEAM_44, created.id)
    sent = envelope(submitted())
    assert (await record(tables, submitted(), env=sent))[0] == 2
    [hook] = rows(tables, kind=Kind.WEBHOOK)
    assert (hook.new.channel, hook.new.subscription_id) == (Channel.WEBHOOK, created.id)
    assert (hook.payload["id"], hook.payload["type"]) == (sent.id, sent.type)
    await webhooks.unsubscribe_webhook(FakeUnitOfWork(tables), TEAM_49, created.id, NOW)
    await record(tables, proposed())
    assert len(rows(tables, kind=Kind.WEBHOOK)) == 1


async def test_contacts_belong_to_their_actor_and_their_departement() -> None:
    tables = Tables()
    await with_actor_contact(tables)
    uow = FakeUnitOfWork(tables)
    assert await contacts.read_actor_contact(uow, TEAM_49, None, "caue49") == ActorContact(
        "49", ACTOR_ADDRESS, None
    )
    assert await contacts.read_actor_contact(uow, ADMIN, "49", "caue49") == ActorContact(
        "49", ACTOR_ADDRESS, None
    )
    with pytest.raises(Forbidden):
        await contacts.save_actor_contact(uow, CAUE, "other", None, "x@example.fr", None, NOW)
    for asked in ("44", "49"):
        with pytest.raises(NotFound):
            await contacts.read_actor_contact(uow, TEAM_44, asked, "caue49")
    # Another département's team names its own actor "caue49": another contact, not ours.
    await contacts.save_actor_contact(uow, TEAM_44, "caue49", "44", "x@example.fr", None, NOW)
    assert (await contacts.read_actor_contact(uow, TEAM_49, None, "caue49")).email == ACTOR_ADDRESS
    await contacts.save_team_contact(uow, TEAM_49, "49", "Equipe@Anjou.fr", NOW)
    assert await contacts.read_team_contact(uow, TEAM_49, "49", SETTINGS) == (
        "equipe@anjou.fr",
        True,
    )
    assert await contacts.read_team_contact(uow, ADMIN, "44", SETTINGS) == (
        SETTINGS.team_address("44"),
        False,
    )


# --- what the clock records --------------------------------------------------------------


async def test_reminders_and_follow_ups_are_recorded_once() -> None:
    tables = Tables()
    await with_actor_contact(tables)
    await record(tables, submitted())
    await record(tables, proposed())
    respond_by = proposed().respond_by
    before_due = respond_by - SETTINGS.reminder_lead - timedelta(minutes=1)
    due = respond_by - SETTINGS.reminder_lead + timedelta(minutes=1)
    assert await reminders.remind_actors(FakeUnitOfWork(tables), SETTINGS, before_due) == 0
    assert await reminders.remind_actors(FakeUnitOfWork(tables), SETTINGS, due) == 1
    assert await reminders.remind_actors(FakeUnitOfWork(tables), SETTINGS, due) == 0
    [reminder] = rows(tables, kind=Kind.RAPPEL_REPONSE)
    assert reminder.address == ACTOR_ADDRESS
    quiet_for = NOW + SETTINGS.follow_up_period + timedelta(hours=1)
    assert await reminders.follow_up_requesters(FakeUnitOfWork(tables), SETTINGS, quiet_for) == 1
    assert await reminders.follow_up_requesters(FakeUnitOfWork(tables), SETTINGS, quiet_for) == 0
    assert len(rows(tables, kind=Kind.OU_EN_ETES_VOUS)) == 1


async def test_held_messages_go_out_in_one_digest_a_day() -> None:
    tables = Tables()
    await daily_digest(FakeUnitOfWork(tables), CARD.contact_email)
    await record(tables, submitted())
    await record(tables, proposed())
    later = NOW + timedelta(hours=1)
    assert await digests.digest_addresses(FakeUnitOfWork(tables), later) == [CARD.contact_email]
    digest_id = await digests.send_digest(FakeUnitOfWork(tables), CARD.contact_email, later)
    assert digest_id is not None
    summary_row = tables.deliveries[digest_id]
    assert (summary_row.new.kind, summary_row.status) == (
        Kind.RESUME_QUOTIDIEN,
        DeliveryStatus.PENDING,
    )
    assert summary_row.payload["date"] == "25 novembre 2026"
    assert [i["kind"] for i in summary_row.payload["items"]] == ["demande_recue", "acteur_propose"]
    assert {r.digest_id for r in rows(tables, status=DeliveryStatus.DIGESTED)} == {digest_id}
    assert await digests.digest_addresses(FakeUnitOfWork(tables), later) == []
    # Held after today's digest: it waits for tomorrow's.
    await record(tables, proposed(assignment_id=uuid.uuid4()), now=later)
    later_still = later + timedelta(hours=1)
    assert (
        await digests.send_digest(FakeUnitOfWork(tables), CARD.contact_email, later_still) is None
    )
    assert len(rows(tables, status=DeliveryStatus.HELD)) == 1
    assert digests.digest_due(NotificationSettings(digest_hour=8), NOW)  # 11:00 in Paris
    assert not digests.digest_due(NotificationSettings(digest_hour=12), NOW)


# --- the dispatcher and the outcome of each attempt --------------------------------------

FAST = NotificationSettings(
    dispatch_poll_seconds=0.01,
    backoff_base_seconds=0.01,
    backoff_max_seconds=0.02,
    max_attempts=3,
)


async def dispatch_until(
    tables: Tables, email: FakeSender, done: Callable[[], bool], webhook: FakeSender | None = None
) -> list[tuple[Envelope, EventPayload]]:
    """Run a dispatcher on ``tables`` until ``done``; the events its commits published."""
    made: list[FakeUnitOfWork] = []

    def unit_of_work() -> FakeUnitOfWork:
        made.append(FakeUnitOfWork(tables))
        return made[-1]

    dispatcher = Dispatcher(
        uow_factory=unit_of_work,
        senders={Channel.EMAIL: email, Channel.WEBHOOK: webhook or FakeSender()},
        settings=FAST,
        draw=lambda: 0.0,
    )
    running = asyncio.create_task(dispatcher.run())
    try:
        for _ in range(200):
            if done():
                break
            await asyncio.sleep(0.005)
        else:
            raise AssertionError("not done within a second")
    finally:
        running.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await running
    assert email.closed
    return [published for uow in made for published in uow.published]


async def test_the_dispatcher_sends_what_is_due_and_publishes_that_it_was_sent() -> None:
    tables = Tables()
    await record(tables, submitted(), now=datetime.now(UTC))
    email = FakeSender()
    published = await dispatch_until(
        tables, email, lambda: bool(rows(tables, status=DeliveryStatus.SENT))
    )
    [sent] = email.sent
    assert (sent.kind, sent.address) == (Kind.DEMANDE_RECUE, CARD.contact_email)
    [(_, event)] = published
    assert isinstance(event, DeliverySent)
    assert (event.notification_id, event.attempts) == (sent.id, 1)


async def test_a_temporary_failure_is_retried_then_sent() -> None:
    tables = Tables()
    await record(tables, submitted(), now=datetime.now(UTC))
    email = FakeSender([DeliveryFailed("smtp_451", "try later")])
    await dispatch_until(tables, email, lambda: bool(rows(tables, status=DeliveryStatus.SENT)))
    assert len(email.attempts) == 2
    [row] = tables.deliveries.values()
    assert (row.attempts, row.last_error) == (2, None)


async def test_a_permanent_failure_is_dead_lettered_and_the_team_told_once() -> None:
    tables = Tables()
    await record(tables, submitted(), now=datetime.now(UTC))
    refused = DeliveryFailed("smtp_550", "no such mailbox", permanent=True)
    email = FakeSender([refused])
    published = await dispatch_until(
        tables,
        email,
        lambda: bool(rows(tables, kind=Kind.LIVRAISON_EN_ECHEC, status=DeliveryStatus.SENT)),
    )
    [dead] = rows(tables, status=DeliveryStatus.DEAD_LETTERED)
    assert (dead.new.kind, dead.reason, dead.attempts) == (Kind.DEMANDE_RECUE, "smtp_550", 1)
    (dead_envelope, dead_event), (_, notice_sent) = published
    assert isinstance(dead_event, DeliveryDeadLettered)
    # A mail server's words may quote the address: not in the event.
    assert (dead_event.reason, dead_event.error) == ("smtp_550", None)
    assert isinstance(notice_sent, DeliverySent)
    [notice] = rows(tables, kind=Kind.LIVRAISON_EN_ECHEC)
    assert notice.address == SETTINGS.team_address("49")
    # Caused by the dead letter's event, and named after it: one notice per failure.
    assert notice.new.source_event_id == notice.new.causation_id == dead_envelope.id
    assert len(email.sent) == 1


async def test_a_team_retries_a_dead_letter_once() -> None:
    tables = Tables()
    await record(tables, submitted())
    [row] = tables.deliveries.values()
    uow = FakeUnitOfWork(tables)
    with pytest.raises(Conflict):
        await deliveries.retry_dead_letter(uow, TEAM_49, row.new.id, NOW)
    row.status = DeliveryStatus.DEAD_LETTERED
    row.last_error = f"smtp_550: <{CARD.contact_email}>: no such mailbox"
    [listed_dead] = await deliveries.list_deliveries(
        FakeUnitOfWork(tables), TEAM_49, DeliveryFilter(status="dead_lettered"), limit=10, offset=0
    )
    # A mail server's words may quote the address: not shown.
    assert (listed_dead.id, listed_dead.last_error) == (row.new.id, None)
    with pytest.raises(NotFound):
        await deliveries.retry_dead_letter(uow, TEAM_44, row.new.id, NOW)
    await deliveries.retry_dead_letter(FakeUnitOfWork(tables), TEAM_49, row.new.id, NOW)
    assert tables.deliveries[row.new.id].status is DeliveryStatus.PENDING
    listed = await deliveries.list_deliveries(
        FakeUnitOfWork(tables), TEAM_49, DeliveryFilter(status="pending"), limit=10, offset=0
    )
    assert [d.id for d in listed] == [row.new.id]
    with pytest.raises(Forbidden):
        await deliveries.list_deliveries(
            FakeUnitOfWork(tables), CAUE, DeliveryFilter(), limit=10, offset=0
        )
