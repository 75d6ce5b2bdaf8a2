"""The portal in a real browser, against the real services.

The services run as OS processes (``stack.harness.Stack``: databases and consumer groups of
their own on the shared broker, the synthetic catalogue of one actor per département), the
portal as one more process pointed at them, and Playwright drives Debian's Chromium
(``MG_CHROMIUM``, by default ``/usr/bin/chromium``; ``infra/setup.sh`` installs it).
axe-core comes from the portal's npm packages (``services/portal/node_modules``)."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
from playwright.async_api import Browser, async_playwright

from shared.settings import KafkaSettings
from stack.harness.portal import portal_process
from stack.harness.process import ROOT
from stack.harness.stack import Stack, StackOptions

CHROMIUM = os.environ.get("MG_CHROMIUM", "/usr/bin/chromium")
AXE = ROOT / "services" / "portal" / "node_modules" / "axe-core" / "axe.min.js"
DEPARTEMENT = "49"


@dataclass
class PortalStack:
    stack: Stack
    url: str

    @property
    def actor_id(self) -> str:
        return self.stack.actor_ids[DEPARTEMENT]


@pytest.fixture(scope="package")
async def portal_stack(kafka_topics: KafkaSettings) -> AsyncIterator[PortalStack]:
    assert AXE.is_file(), "run `npm install --ignore-scripts` in services/portal (README)"
    options = StackOptions(departements=(DEPARTEMENT,), outbox_poll_seconds=0.2)
    async with Stack(options, kafka_topics) as stack:
        process = portal_process(stack)
        await process.start()
        try:
            await process.wait_ready()
            yield PortalStack(stack, process.base_url)
        finally:
            await process.stop()


@pytest.fixture(scope="package")
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as p:
        # --no-sandbox: the sessions and CI run as root, where Chromium's sandbox cannot start.
        launched = await p.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=["--no-sandbox"]
        )
        try:
            yield launched
        finally:
            await launched.close()
