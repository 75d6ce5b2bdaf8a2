"""Webhooks against a real HTTP receiver: subscriptions over the API, signed CloudEvents,
replays refused by the receiver, retries with backoff, dead letters, and endpoints that
fail or hang without holding up a healthy one."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import itertools
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
import pytest

from services.notifications.domain.delivery import RetryPolicy
from services.notifications.domain.model import Channel, notification_id
from shared.auth.tokens import Role
from shared.contracts.base import EventPayload
from shared.contracts.requests import Contact, Requester, RequestSubmitted
from shared.contracts.topics import NOTIFICATIONS_DELIVERY
from shared.contracts.vocabulary import Phase, RequesterKind, Theme
from shared.messaging.envelope import Envelope
from shared.settings import KafkaSettings
from tests.component.notification_demandes import (
    ADMIN,
    DEP,
    TEAM,
    TEAM_ADDRESS,
    notifications_service,
    settings_for,
)
from tests.support import events
from tests.support.kafka_tap import Record, TopicTap, publish_raw
from tests.support.services import RunningService
from tests.support.smtp_server import SmtpSink
from tests.support.tokens import bearer
from tests.support.webhook_receiver import WebhookReceiver

pytestmark = [pytest.mark.kafka, pytest.mark.postgres]

# DEP: a département of no shipped catalogue and no benchmark keeps others' events away from
# these subscriptions; assertions follow this test's own event ids all the same.
SUBMITTED = "requests.request.submitted.v1"
TIMEOUT = 0.6
POLICY = RetryPolicy(max_attempts=3, base_seconds=0.3, max_seconds=2.0, jitter=0.2)


@pytest.fixture(scope="module")
async def receiver() -> AsyncIterator[WebhookReceiver]:
    async with WebhookReceiver() as running:
        yield running


@pytest.fixture(scope="module")
async def service(
    smtp: SmtpSink,
    receiver: WebhookReceiver,
    fresh_database: Callable[[str], Awaitable[str]],
    kafka_topics: KafkaSettings,
) -> AsyncIterator[RunningService]:
    settings = settings_for(
        smtp,
        allow_plain_http_webhooks=True,
        # The receiver listens on loopback, which the webhook guard refuses by default.
        webhook_allowed_networks=["127.0.0.0/8"],
        webhook_timeout_seconds=TIMEOUT,
        webhook_concurrency=2,
        max_attempts=POLICY.max_attempts,
        backoff_base_seconds=POLICY.base_seconds,
        backoff_max_seconds=POLICY.max_seconds,
        backoff_jitter=POLICY.jitter,
    )
    async with notifications_service(fresh_database, kafka_topics, settings) as running:
        yield running


def submitted(departement: str = DEP) -> RequestSubmitted:
    return events.request_submitted(
        departement=departement,
        requester=Requester(
            kind=RequesterKind.COMMUNE, code="85191", name="La Roche-sur-Yon", population=1
        ),
        contact=Contact(name="Marie Dupont", email=f"marie.{uuid.uuid4().hex[:8]}@example.fr"),
        title="Aménagement du centre-bourg",
        themes=[Theme.URBANISME],
        phase=Phase.IDEE,
    )


async def publish(
    kafka: KafkaSettings, payloads: list[EventPayload], envelopes: list[Envelope] | None = None
) -> list[Envelope]:
    envelopes = envelopes or [
        Envelope(
            type=p.event_type,
            source=p.producer,
            departement=str(getattr(p, "departement", DEP)),
            correlation_id=f"corr-{uuid.uuid4().hex[:8]}",
        )
        for p in payloads
    ]
    records = [events.as_record(p, e)[1] for p, e in zip(payloads, envelopes, strict=True)]
    await publish_raw(kafka, payloads[0].topic, records)
    return envelopes


async def subscribe(service: RunningService, url: str, secret: str, **extra: Any) -> str:
    body = {"url": url, "event_types": [SUBMITTED], "secret": secret} | extra
    created = await service.client.post("/v1/webhooks", json=body, headers=TEAM)
    assert created.status_code == 201, created.text
    return str(created.json()["id"])


async def until(condition: Callable[[], bool], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"condition not met after {timeout}s")
        await asyncio.sleep(0.05)


def outcomes(records: list[Record], subscription_ids: set[str]) -> list[dict[str, Any]]:
    return [
        {"type": r.headers["ce_type"]} | r.json()
        for r in records
        if r.json().get("subscription_id") in subscription_ids
    ]


def dead_letters(
    records: list[Record], subscription_ids: set[str], event_ids: set[str]
) -> list[dict[str, Any]]:
    return [o for o in outcomes(records, subscription_ids) if o["source_event_id"] in event_ids]


def secret() -> str:
    return f"secret-{uuid.uuid4().hex}"


# --- the tests ----------------------------------------------------------------------------


async def test_subscriptions_belong_to_teams_and_admins_and_errors_are_french(
    service: RunningService, receiver: WebhookReceiver
) -> None:
    url = receiver.endpoint(f"api-{uuid.uuid4().hex[:8]}", secret())
    body = {"url": url, "event_types": [SUBMITTED], "secret": secret()}
    client = service.client

    assert (await client.post("/v1/webhooks", json=body)).status_code == 401
    for role, scope in ((Role.COLLECTIVITE, "85191"), (Role.ACTOR, "caue85")):
        refused = await client.post("/v1/webhooks", json=body, headers=bearer(role, DEP, scope))
        assert refused.status_code == 403
        assert refused.json()["detail"] == "Réservé à l'équipe du département."
    other = await client.post("/v1/webhooks", json=body | {"departement": "49"}, headers=TEAM)
    assert other.status_code == 403
    assert other.json()["detail"] == "Vous ne pouvez agir que pour votre département."

    invalid = await client.post(
        "/v1/webhooks",
        json={"url": "ftp://example.fr/x", "event_types": ["inconnu.v1"], "secret": "court"},
        headers=TEAM,
    )
    assert invalid.status_code == 422
    messages = {e["field"]: e["message"] for e in invalid.json()["errors"]}
    assert messages["secret"] == "Trop court : au moins 16 caractère(s)."
    assert messages["event_types"].startswith("Type(s) d'événement inconnu(s) : inconnu.v1.")
    bad_url = await client.post(
        "/v1/webhooks", json=body | {"url": "ftp://example.fr/x"}, headers=TEAM
    )
    assert bad_url.json()["errors"] == [
        {"field": "url", "message": "Une adresse complète est attendue (https://… ou http://…)."}
    ]

    created = await client.post("/v1/webhooks", json=body, headers=TEAM)
    assert created.status_code == 201
    mine = created.json()
    assert (mine["departement"], mine["event_types"]) == (DEP, [SUBMITTED])
    assert "secret" not in mine
    everywhere = await client.post("/v1/webhooks", json=body, headers=ADMIN)
    assert everywhere.json()["departement"] is None

    listed = [s["id"] for s in (await client.get("/v1/webhooks", headers=TEAM)).json()]
    assert mine["id"] in listed and everywhere.json()["id"] not in listed
    all_listed = [s["id"] for s in (await client.get("/v1/webhooks", headers=ADMIN)).json()]
    assert {mine["id"], everywhere.json()["id"]} <= set(all_listed)
    other_team = bearer(Role.DEPARTEMENT, "49")
    hidden = await client.get(f"/v1/webhooks/{mine['id']}", headers=other_team)
    assert hidden.status_code == 404
    assert hidden.json()["detail"] == "Abonnement introuvable."

    for subscription_id, headers in ((mine["id"], TEAM), (everywhere.json()["id"], ADMIN)):
        assert (
            await client.delete(f"/v1/webhooks/{subscription_id}", headers=headers)
        ).status_code == 204
    assert (await client.get(f"/v1/webhooks/{mine['id']}", headers=TEAM)).status_code == 404


async def test_a_signed_cloud_event_arrives_once_and_the_receiver_refuses_replays(
    service: RunningService, receiver: WebhookReceiver, kafka_topics: KafkaSettings
) -> None:
    tag = uuid.uuid4().hex[:8]
    good_secret, flaky_secret = secret(), secret()
    good = await subscribe(service, receiver.endpoint(f"good-{tag}", good_secret), good_secret)
    flaky = await subscribe(
        service,
        receiver.endpoint(f"flaky-{tag}", flaky_secret, mode="fail_first", failures=2),
        flaky_secret,
    )
    endpoint = receiver.endpoints[f"good-{tag}"]
    event = submitted()
    async with TopicTap(kafka_topics, NOTIFICATIONS_DELIVERY.name) as tap:
        [envelope] = await publish(kafka_topics, [event])
        # Not subscribed: an acceptance, and the same demande in another département.
        await publish(
            kafka_topics,
            [
                events.assignment_accepted(
                    request_id=event.request_id, departement=DEP, actor_id="caue85"
                )
            ],
        )
        await publish(kafka_topics, [submitted("44")])
        records = await tap.collect(
            lambda rs: (
                len([o for o in outcomes(rs, {good, flaky}) if o["source_event_id"] == envelope.id])
                == 2
            ),
            settle=0.5,
        )
        # The same record again: the service has handled it, nothing is sent twice.
        await publish(kafka_topics, [event], [envelope])
        await asyncio.sleep(1.5)

    # Other runs may publish on the shared broker: only this test's event is looked at.
    [cloud] = [c for c in endpoint.accepted if c["id"] == envelope.id]
    assert cloud == {
        "specversion": "1.0",
        "id": envelope.id,
        "type": SUBMITTED,
        "source": "requests",
        "time": envelope.to_headers()["ce_time"],
        "datacontenttype": "application/json",
        "departement": DEP,
        "correlationid": envelope.correlation_id,
        "data": event.model_dump(mode="json"),
    }
    assert len(endpoint.attempts_for(envelope.id)) == 1
    [(body, headers)] = [(b, h) for b, h in endpoint.raw if envelope.id.encode() in b]
    assert headers["content-type"] == "application/cloudevents+json; charset=utf-8"
    assert headers["x-mg-delivery"] == str(
        notification_id(envelope.id, f"webhook:{good}", Channel.WEBHOOK)
    )
    assert headers["x-mg-attempt"] == "1"
    assert headers["x-mg-signature"].startswith("t=")

    flaky_end = receiver.endpoints[f"flaky-{tag}"]
    flaky_tries = flaky_end.attempts_for(envelope.id)
    assert [a.status for a in flaky_tries] == [500, 500, 204]
    assert [a.attempt for a in flaky_tries] == ["1", "2", "3"]
    assert [c["id"] for c in flaky_end.accepted].count(envelope.id) == 1
    sent = {
        o["subscription_id"]: o
        for o in outcomes(records, {good, flaky})
        if o["source_event_id"] == envelope.id
    }
    assert {o["type"] for o in sent.values()} == {"notifications.delivery.sent.v1"}
    assert (sent[good]["attempts"], sent[flaky]["attempts"]) == (1, 3)
    assert sent[good]["channel"] == "webhook" and sent[good]["source_event_id"] == envelope.id

    # What a replayed, altered or stale request meets at a receiver that checks.
    target = f"{receiver.base_url}/hooks/good-{tag}"
    async with httpx.AsyncClient() as client:
        replayed = await client.post(target, content=body, headers=headers)
        altered = await client.post(
            target, content=body.replace(b"centre", b"CENTRE"), headers=headers
        )
        stale_t = int(time.time()) - 600
        stale_sig = hmac.new(good_secret.encode(), f"{stale_t}.".encode() + body, hashlib.sha256)
        stale = await client.post(
            target,
            content=body,
            headers=headers | {"x-mg-signature": f"t={stale_t},v1={stale_sig.hexdigest()}"},
        )
    assert (replayed.status_code, altered.status_code, stale.status_code) == (409, 401, 400)
    assert [c["id"] for c in endpoint.accepted].count(envelope.id) == 1

    # Unsubscribed: the next events are not for it.
    await service.client.delete(f"/v1/webhooks/{good}", headers=TEAM)
    [later] = await publish(kafka_topics, [submitted()])
    await asyncio.sleep(1.0)
    assert endpoint.attempts_for(later.id) == []
    await service.client.delete(f"/v1/webhooks/{flaky}", headers=TEAM)


async def test_failing_and_hanging_endpoints_retry_then_dead_letter_without_holding_up_others(
    service: RunningService,
    receiver: WebhookReceiver,
    smtp: SmtpSink,
    kafka_topics: KafkaSettings,
) -> None:
    tag = uuid.uuid4().hex[:8]
    ids = {}
    for name, mode in (("healthy", "ok"), ("broken", "fail"), ("stuck", "hang")):
        key = secret()
        ids[name] = await subscribe(
            service, receiver.endpoint(f"{name}-{tag}", key, mode=mode), key
        )
    healthy, broken, stuck = (receiver.endpoints[f"{n}-{tag}"] for n in ids)
    events = [submitted() for _ in range(6)]
    async with TopicTap(kafka_topics, NOTIFICATIONS_DELIVERY.name) as tap:
        envelopes = await publish(kafka_topics, events)
        event_ids = [e.id for e in envelopes]
        mine = set(event_ids)
        await until(lambda: len([c for c in healthy.accepted if c["id"] in mine]) == 6)
        records = await tap.collect(
            lambda rs: len(dead_letters(rs, {ids["broken"], ids["stuck"]}, mine)) == 12,
            timeout=40,
        )

    # Both rows of an event are due together. Had the healthy endpoint shared slots with
    # the stuck one, it would have waited for a timeout; it never did.
    healthy_tries = [a for a in healthy.attempts if a.event_id in mine]
    assert [a.status for a in healthy_tries] == [204] * 6
    delivered = {a.event_id: a.at for a in healthy_tries}
    for event_id in event_ids:
        assert delivered[event_id] < stuck.attempts_for(event_id)[0].at + TIMEOUT
    # The stuck endpoint had its two slots and no more: each request holds one for the
    # timeout, so no window shorter than that saw three of them begin.
    starts = sorted(a.at for a in stuck.attempts if a.event_id in mine)
    window = TIMEOUT - 0.05
    assert max(sum(1 for t in starts if begin - window < t <= begin) for begin in starts) == 2

    # Each failing delivery: exactly three attempts, spaced by a growing backoff.
    for endpoint in (broken, stuck):
        for event_id in event_ids:
            tries = endpoint.attempts_for(event_id)
            assert [a.attempt for a in tries] == ["1", "2", "3"], endpoint.name
    for event_id in event_ids:
        tries = broken.attempts_for(event_id)
        gaps = [later.at - earlier.at for earlier, later in itertools.pairwise(tries)]
        assert gaps[0] >= POLICY.lowest_delay(1) - 0.02
        assert gaps[1] >= POLICY.lowest_delay(2) - 0.02
        assert POLICY.lowest_delay(2) == 2 * POLICY.lowest_delay(1)

    dead = dead_letters(records, {ids["broken"], ids["stuck"]}, mine)
    assert {o["type"] for o in dead} == {"notifications.delivery.dead_lettered.v1"}
    reasons = sorted((o["subscription_id"] == ids["stuck"], o["reason"]) for o in dead)
    assert reasons == [(False, "http_500")] * 6 + [(True, "timeout")] * 6
    assert all(o["attempts"] == 3 for o in dead)

    # The département team is told, once per dead letter.
    def notices() -> list[str]:
        return [
            m.text
            for m in smtp.to(TEAM_ADDRESS)
            if m.message["X-MG-Kind"] == "livraison_en_echec"
            and any(event_id in m.text for event_id in event_ids)
        ]

    await smtp.wait_for(lambda: len(notices()) == 12, settle=0.5)
    assert len(notices()) == 12
    assert sum("Motif du dernier échec : timeout" in text for text in notices()) == 6
    listed = await service.client.get(
        "/v1/deliveries",
        params={"status": "dead_lettered", "subscription_id": ids["stuck"]},
        headers=TEAM,
    )
    stuck_dead = [d for d in listed.json() if d["source_event_id"] in mine]
    assert [(d["reason"], d["attempts"]) for d in stuck_dead] == [("timeout", 3)] * 6
    assert all(d["last_error"] == f"timeout: no answer within {TIMEOUT:g} s" for d in stuck_dead)

    # A team can send a dead letter again once the endpoint is fixed.
    broken.mode = "ok"
    first = broken.attempts_for(event_ids[0])
    [delivery] = [
        d
        for d in (
            await service.client.get(
                "/v1/deliveries",
                params={"status": "dead_lettered", "subscription_id": ids["broken"]},
                headers=TEAM,
            )
        ).json()
        if d["source_event_id"] == event_ids[0]
    ]
    retried = await service.client.post(f"/v1/deliveries/{delivery['id']}/retry", headers=TEAM)
    assert retried.status_code == 202
    await until(lambda: [c["id"] for c in broken.accepted].count(event_ids[0]) == 1)
    assert len(broken.attempts_for(event_ids[0])) == len(first) + 1
    again = await service.client.post(f"/v1/deliveries/{delivery['id']}/retry", headers=TEAM)
    assert again.status_code == 409
    for subscription_id in ids.values():
        await service.client.delete(f"/v1/webhooks/{subscription_id}", headers=TEAM)
