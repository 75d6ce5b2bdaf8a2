"""The role × endpoint × tenant matrix over the four services (ADR 0021), in process, on
real databases and the real broker: no write succeeds and no answer names département
49's resources outside their owner's perimeter, anonymous callers get 401, and
docs/security.md is this very table."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack

import httpx
import pytest

from services.notifications.config import NotificationSettings
from shared.settings import KafkaSettings
from tests.integration.security_matrix import (
    CALLERS,
    CONTACT,
    DOCUMENT,
    Resources,
    body_of,
    render,
    run,
    violations,
)
from tests.support.fake_resolver import FakeResolver
from tests.support.openapi_documents import SERVICES
from tests.support.services import running_service

pytestmark = [pytest.mark.kafka, pytest.mark.postgres]

OWNER = {c.key: c for c in CALLERS}


@pytest.fixture
async def clients(
    fresh_database: Callable[[str], Awaitable[str]], kafka_topics: KafkaSettings
) -> AsyncIterator[dict[str, httpx.AsyncClient]]:
    # The subscription's receiver is loopback port 9: nothing listens, nothing leaves.
    notifications = NotificationSettings(
        allow_plain_http_webhooks=True, webhook_allowed_networks=["127.0.0.0/8"]
    )
    options = {
        "notifications": {
            "settings": notifications,
            "resolver": FakeResolver({"hooks.example.org": ["127.0.0.1"]}),
        }
    }
    async with AsyncExitStack() as stack:
        started = {}
        for name in SERVICES:
            running = await stack.enter_async_context(
                running_service(name, fresh_database, kafka_topics, build_options=options.get(name))
            )
            started[name] = running.client
        yield started


async def owned_resources(clients: dict[str, httpx.AsyncClient]) -> Resources:
    team, collectivite = OWNER["equipe49"].headers(), OWNER["coll49"].headers()
    resources = Resources()
    demande = await clients["requests"].post(
        "/v1/requests", json=body_of("requests", "POST", "/v1/requests"), headers=collectivite
    )
    assert demande.status_code == 201, demande.text
    resources.ids["request_id"] = demande.json()["id"]
    resources.ids["project_id"] = demande.json()["project_id"]
    adhesion = await clients["billing"].post(
        "/v1/adhesions", json=body_of("billing", "POST", "/v1/adhesions"), headers=team
    )
    assert adhesion.status_code == 201, adhesion.text
    resources.ids["adhesion_id"] = adhesion.json()["id"]
    webhook = await clients["notifications"].post(
        "/v1/webhooks", json=body_of("notifications", "POST", "/v1/webhooks"), headers=team
    )
    assert webhook.status_code == 201, webhook.text
    resources.ids["subscription_id"] = webhook.json()["id"]
    # The demande reaches notifications over Kafka: then its contact is known there.
    for _ in range(400):
        found = await clients["notifications"].post(
            "/v1/departements/49/contacts/search", json={"email": CONTACT}, headers=team
        )
        if found.status_code == 200:
            resources.ids["contact_id"] = found.json()["contact_id"]
            return resources
        await asyncio.sleep(0.05)
    raise AssertionError(f"notifications never heard of the demande: {found.text}")


async def test_the_matrix_holds_and_docs_security_md_is_up_to_date(
    clients: dict[str, httpx.AsyncClient],
) -> None:
    rows = await run(clients, await owned_resources(clients))

    assert violations(rows) == []
    table = render(rows)
    if os.environ.get("MG_SECURITY_MATRIX_WRITE") == "1":
        DOCUMENT.write_text(table, encoding="utf-8")
    assert DOCUMENT.read_text(encoding="utf-8") == table, (
        "docs/security.md is out of date: MG_SECURITY_MATRIX_WRITE=1 and run this test again"
    )
