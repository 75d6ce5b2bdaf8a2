"""Fixtures of the notifications tests (``test_notifications_*.py``): one real SMTP sink and
one notifications service per test module. Test modules that need another service (the
webhooks' or the requests API's) define their own, which wins."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterator

import pytest

from shared.settings import KafkaSettings
from tests.component.notification_demandes import notifications_service, settings_for
from tests.support.services import RunningService
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
    async with notifications_service(fresh_database, kafka_topics, settings_for(smtp)) as running:
        yield running
