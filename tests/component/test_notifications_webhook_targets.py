"""Webhook targets against internal addresses (ADR 0021), through the notifications
service: refused at subscription (422, French), refused again at delivery when the name
has since been pointed inside (DNS rebinding), and delivered to the very address that was
checked. The service's resolver is a fake one: no name is asked of a real DNS and no
connection leaves 127.0.0.0/8."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable

import asyncpg
import pytest

from shared.settings import KafkaSettings
from tests.component.notification_demandes import TEAM, notifications_service, settings_for
from tests.component.test_notifications_webhooks import SUBMITTED, publish, submitted, until
from tests.support.fake_resolver import FakeResolver
from tests.support.services import RunningService
from tests.support.smtp_server import SmtpSink
from tests.support.webhook_receiver import WebhookReceiver
from tests.unit.test_webhook_targets import REFUSED, RESOLVER

pytestmark = [pytest.mark.kafka, pytest.mark.postgres]


@pytest.fixture(scope="module")
async def receiver() -> AsyncIterator[WebhookReceiver]:
    async with WebhookReceiver() as running:
        yield running


@pytest.fixture(scope="module")
async def strict(
    smtp: SmtpSink,
    fresh_database: Callable[[str], Awaitable[str]],
    kafka_topics: KafkaSettings,
) -> AsyncIterator[RunningService]:
    """The production guard: HTTPS only, no network allowed."""
    settings = settings_for(smtp)
    async with notifications_service(
        fresh_database, kafka_topics, settings, resolver=RESOLVER
    ) as running:
        yield running


# What a local stack allows: plain HTTP, and loopback for its receivers.
LOCAL_DNS = FakeResolver()


@pytest.fixture(scope="module")
async def local(
    smtp: SmtpSink,
    fresh_database: Callable[[str], Awaitable[str]],
    kafka_topics: KafkaSettings,
) -> AsyncIterator[RunningService]:
    settings = settings_for(
        smtp, allow_plain_http_webhooks=True, webhook_allowed_networks=["127.0.0.0/8"]
    )
    async with notifications_service(
        fresh_database, kafka_topics, settings, resolver=LOCAL_DNS
    ) as running:
        yield running


def body(url: str) -> dict[str, object]:
    return {"url": url, "event_types": [SUBMITTED], "secret": f"secret-{uuid.uuid4().hex}"}


async def test_every_internal_spelling_is_refused_at_subscription_in_french(
    strict: RunningService,
) -> None:
    for url in REFUSED:
        answer = await strict.client.post("/v1/webhooks", json=body(url), headers=TEAM)
        assert answer.status_code == 422, (url, answer.text)
        [error] = answer.json()["errors"]
        assert error["field"] == "url"
        assert error["message"].startswith(
            ("Adresse interne", "Une adresse HTTPS", "Nom de domaine", "L'adresse ne doit")
        ), (url, error)
    # Nothing of it was stored.
    listed = await strict.client.get("/v1/webhooks", headers=TEAM)
    assert listed.json() == []


async def test_a_name_rebound_inside_is_refused_at_delivery_and_the_checked_address_is_used(
    local: RunningService, receiver: WebhookReceiver, kafka_topics: KafkaSettings
) -> None:
    tag = uuid.uuid4().hex[:8]
    port = receiver.base_url.rsplit(":", 1)[1]
    LOCAL_DNS.answers[f"partner-{tag}.example.org"] = ["127.0.0.1"]
    LOCAL_DNS.answers[f"rebind-{tag}.example.org"] = ["93.184.216.34"]
    secret = f"secret-{uuid.uuid4().hex}"
    receiver.endpoint(f"pinned-{tag}", secret)
    receiver.endpoint(f"rebound-{tag}", secret)
    ids = {}
    for name in ("pinned", "rebound"):
        host = f"{'partner' if name == 'pinned' else 'rebind'}-{tag}.example.org"
        url = f"http://{host}:{port}/hooks/{name}-{tag}"
        created = await local.client.post(
            "/v1/webhooks", json=body(url) | {"secret": secret}, headers=TEAM
        )
        assert created.status_code == 201, created.text
        ids[name] = created.json()["id"]

    # Since the subscription, the name points at the metadata service.
    LOCAL_DNS.answers[f"rebind-{tag}.example.org"] = ["169.254.169.254"]
    [envelope] = await publish(kafka_topics, [submitted()])

    pinned = receiver.endpoints[f"pinned-{tag}"]
    await until(lambda: any(c["id"] == envelope.id for c in pinned.accepted))
    # Connected to the address checked, 127.0.0.1, and asked for the name's host.
    assert {headers["host"] for _, headers in pinned.raw} == {f"partner-{tag}.example.org:{port}"}

    async def refused() -> list[dict[str, object]]:
        listed = await local.client.get(
            "/v1/deliveries",
            params={"status": "dead_lettered", "subscription_id": ids["rebound"]},
            headers=TEAM,
        )
        return [d for d in listed.json() if d["source_event_id"] == envelope.id]

    found: list[dict[str, object]] = []

    async def poll() -> bool:
        found[:] = await refused()
        return bool(found)

    for _ in range(200):
        if await poll():
            break
        await asyncio.sleep(0.05)
    [dead] = found
    assert (dead["reason"], dead["attempts"]) == ("unsafe_target", 1)
    assert str(dead["last_error"]).startswith("unsafe_target: Adresse interne")
    assert receiver.endpoints[f"rebound-{tag}"].raw == []


async def test_a_generated_secret_is_shown_once_and_kept_sealed(
    local: RunningService, receiver: WebhookReceiver, kafka_topics: KafkaSettings
) -> None:
    tag = uuid.uuid4().hex[:8]
    port = receiver.base_url.rsplit(":", 1)[1]
    LOCAL_DNS.answers[f"sealed-{tag}.example.org"] = ["127.0.0.1"]
    url = f"http://sealed-{tag}.example.org:{port}/hooks/sealed-{tag}"
    created = await local.client.post(
        "/v1/webhooks", json={"url": url, "event_types": [SUBMITTED]}, headers=TEAM
    )
    assert created.status_code == 201, created.text
    secret = created.json()["secret"]
    assert len(secret) >= 32
    shown = await local.client.get(f"/v1/webhooks/{created.json()['id']}", headers=TEAM)
    assert "secret" not in shown.json()

    conn = await asyncpg.connect(local.database_url.replace("postgresql+asyncpg", "postgresql"))
    try:
        stored = await conn.fetchval(
            "SELECT secret FROM webhook_subscriptions WHERE id = $1",
            uuid.UUID(created.json()["id"]),
        )
    finally:
        await conn.close()
    assert stored.startswith("enc:v1:") and secret not in stored

    # The receiver checks the signature with the secret it was shown.
    receiver.endpoint(f"sealed-{tag}", secret)
    [envelope] = await publish(kafka_topics, [submitted()])
    endpoint = receiver.endpoints[f"sealed-{tag}"]
    await until(lambda: any(c["id"] == envelope.id for c in endpoint.accepted))
