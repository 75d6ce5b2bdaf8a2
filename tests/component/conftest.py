"""Fixtures of the notifications email tests (``test_notifications_email_*.py``): one real SMTP
sink and one notifications service per test module. Test modules that need another
service or sink (the webhooks' or the requests API's) define their own, which wins."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterator

import pytest

from shared.settings import KafkaSettings
from tests.component.notification_demandes import (
    DEP,
    TEAM,
    TEAM_ADDRESS,
    settings_for,
)
from tests.support.services import RunningService, running_service
from tests.support.smtp_server import SmtpSink, smtp_sink


@pytest.fixture(scope="module")
def smtp() -> Iterator[SmtpSink]:
    with smtp_sink() as sink:
        yield sink


@pytest.fixture(scope="module")
async def service(
    smtp: SmtpSink,
    fresh_database: Callable[[str], Awaitable[str]],
    kafka_topics: KafkaSettings,
) -> AsyncIterator[RunningService]:
    async with running_service(
        "notifications",
        fresh_database,
        kafka_topics,
        build_options={"settings": settings_for(smtp)},
    ) as running:
        saved = await running.client.put(
            f"/v1/teams/{DEP}/contact", json={"email": TEAM_ADDRESS}, headers=TEAM
        )
        assert saved.status_code == 200, saved.text
        yield running
