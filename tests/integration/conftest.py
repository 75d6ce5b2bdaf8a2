"""Fixtures shared by several integration test modules."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import pytest

from services.billing.entrypoints.main import MIGRATIONS
from shared.db.migrations import upgrade
from tests.support.services import service_fixture

# A requests service of its own database, on the shared broker (the bad-input tests).
requests_service = service_fixture("requests_service", "requests")


@pytest.fixture(scope="module")
def billing_database_url(fresh_database: Callable[[str], Awaitable[str]]) -> str:
    """A migrated billing database, one per test module (the billing concurrency tests)."""
    url = asyncio.run(fresh_database("billing_numbering"))
    upgrade(MIGRATIONS, url)
    return url
