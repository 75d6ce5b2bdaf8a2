"""What the browser tests do on the portal's pages, by clicks and keys only, and the
accessibility check (axe-core) each page they open goes through."""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path
from typing import Any

from playwright.async_api import Page, expect

from tests.browser.conftest import AXE, DEPARTEMENT

AXE_SOURCE = AXE.read_text(encoding="utf-8")


async def assert_accessible(page: Page, visited: list[str]) -> None:
    """axe-core on the page as it is: no serious or critical violation."""
    # Evaluated through the DevTools protocol: the portal's CSP forbids any injected <script>.
    if not await page.evaluate("typeof window.axe !== 'undefined'"):
        await page.evaluate(AXE_SOURCE)
    result: dict[str, Any] = await page.evaluate("async () => await axe.run()")
    bad = [
        f"{v['id']} ({v['impact']}): {v['help']} — {[n['target'] for n in v['nodes']][:3]}"
        for v in result["violations"]
        if v["impact"] in ("serious", "critical")
    ]
    assert not bad, f"{page.url}: {bad}"
    visited.append(page.url)


async def sign_in(
    page: Page,
    base: str,
    role: str,
    scope: str | None,
    visited: list[str],
    departement: str = DEPARTEMENT,
) -> None:
    if not page.url.endswith("/connexion"):
        await page.goto(f"{base}/connexion")  # the only address typed: the rest is clicks
    await assert_accessible(page, visited)
    await tick(page, f"role-{role}")
    await page.get_by_label("Département (code)").fill(departement)
    if scope:
        await page.locator("#scope").fill(scope)
    await page.get_by_role("button", name="Se connecter").click()
    await page.wait_for_load_state()
    await assert_accessible(page, visited)


async def sign_out(page: Page) -> None:
    await page.get_by_role("button", name="Se déconnecter").click()
    await expect(page.get_by_role("heading", name="Se connecter")).to_be_visible()


async def click_until(page: Page, link: str, wanted: str, timeout: float = 90.0) -> None:
    """Click the nav link ``link`` again until ``wanted`` (a selector) shows: what the
    events make of a step arrives a moment later, as a person refreshing would see."""
    deadline = time.monotonic() + timeout
    while True:
        await page.get_by_role("link", name=link, exact=True).first.click()
        await page.wait_for_load_state()
        if await page.locator(wanted).count():
            return
        assert time.monotonic() < deadline, f"{wanted} never showed on {page.url}"
        await asyncio.sleep(0.5)


def watch_csp(page: Page) -> list[str]:
    """The Content-Security-Policy violations the page reports on its console."""
    seen: list[str] = []
    page.on(
        "console",
        lambda m: seen.append(m.text) if "Content Security Policy" in m.text else None,
    )
    return seen


async def tick(page: Page, input_id: str) -> None:
    """Click the label of a DSFR checkbox or radio button, as a person does (the DSFR draws
    its own box over the input)."""
    await page.locator(f"label[for='{input_id}']").click()
    await expect(page.locator(f"#{input_id}")).to_be_checked()


async def fill_demande(page: Page, title: str) -> None:
    """The demande form, filled and sent by clicks."""
    await page.get_by_label("Nom et prénom").fill("Marie Dupont")
    await page.get_by_label("Adresse électronique").fill("marie.dupont@example.fr")
    await page.get_by_label("Titre du projet").fill(title)
    await page.get_by_label("Description du besoin").fill(
        "Audit énergétique de l'école et programme de travaux."
    )
    await tick(page, "theme-batiments_publics")
    await tick(page, "theme-energie")
    await tick(page, "phase-faisabilite")
    await page.get_by_role("button", name="Envoyer la demande").click()


async def tab_to(page: Page, element_id: str, limit: int = 200) -> None:
    """Press Tab until the element ``element_id`` has the focus."""
    for _ in range(limit):
        await page.keyboard.press("Tab")
        if await page.evaluate("document.activeElement && document.activeElement.id") == element_id:
            return
    raise AssertionError(f"#{element_id} never got the focus with Tab")


async def shot(page: Page, name: str) -> None:
    """A screenshot for docs/portal/ when ``MG_PORTAL_SCREENSHOTS`` names a folder."""
    folder = os.environ.get("MG_PORTAL_SCREENSHOTS")
    if folder:
        await page.screenshot(path=str(Path(folder) / f"{name}.png"), full_page=True)


async def reload_until(page: Page, wanted: str, timeout: float = 90.0) -> None:
    """Reload the page until ``wanted`` (a selector) shows, as a person waiting would."""
    deadline = time.monotonic() + timeout
    while not await page.locator(wanted).count():
        assert time.monotonic() < deadline, f"{wanted} never showed on {page.url}"
        await asyncio.sleep(0.5)
        await page.reload()
