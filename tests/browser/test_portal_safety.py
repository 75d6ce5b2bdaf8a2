"""The portal with the keyboard only, and what it refuses: another collectivité's demande
reached by changing the id in the address, another role's pages, a form without its
anti-forgery token; the session cookie's flags."""

from __future__ import annotations

import uuid

import pytest
from playwright.async_api import Browser, expect

from shared.refdata import get_territories
from tests.browser.conftest import DEPARTEMENT, PortalStack
from tests.browser.pages import assert_accessible, fill_demande, sign_in, sign_out, tab_to

pytestmark = [pytest.mark.kafka, pytest.mark.postgres, pytest.mark.timeout(300)]

COMMUNE = "49007"


async def test_demande_submitted_with_the_keyboard_only(
    portal_stack: PortalStack, browser: Browser
) -> None:
    context = await browser.new_context(locale="fr-FR")
    page = await context.new_page()
    visited: list[str] = []
    await sign_in(page, portal_stack.url, "collectivite", COMMUNE, visited)
    title = f"Accessibilité de la mairie {uuid.uuid4().hex[:6]}"
    keyboard = page.keyboard
    await tab_to(page, "nouvelle-demande")
    await keyboard.press("Enter")
    await page.wait_for_url("**/collectivite/demandes/nouvelle")
    await assert_accessible(page, visited)
    for field, text in (
        ("contact_name", "Paul Martin"),
        ("contact_email", "paul.martin@example.fr"),
        ("title", title),
        ("description", "Mise en accessibilité de la mairie et de ses abords."),
    ):
        await tab_to(page, field)
        await keyboard.type(text)
    await tab_to(page, "theme-batiments_publics")
    await keyboard.press("Space")
    await tab_to(page, "phase-idee")
    await keyboard.press("ArrowDown")  # the next phase: faisabilité
    await tab_to(page, "envoyer")
    await keyboard.press("Enter")
    await expect(page.get_by_role("heading", level=1)).to_have_text(title)
    await expect(page.get_by_text("Phase Faisabilité / programmation", exact=False)).to_be_visible()
    await assert_accessible(page, visited)
    await context.close()


async def test_errors_shown_next_to_the_fields(portal_stack: PortalStack, browser: Browser) -> None:
    context = await browser.new_context(locale="fr-FR")
    page = await context.new_page()
    visited: list[str] = []
    await sign_in(page, portal_stack.url, "collectivite", COMMUNE, visited)
    await page.get_by_role("link", name="Déposer une demande").first.click()
    await page.get_by_label("Titre du projet").fill("Abc")
    await page.get_by_role("button", name="Envoyer la demande").click()
    await expect(page.locator("#title-erreur")).to_be_visible()
    await expect(page.locator("#contact_email-erreur")).to_be_visible()
    await assert_accessible(page, visited)
    await context.close()


async def test_no_other_tenant_data_by_changing_an_id(
    portal_stack: PortalStack, browser: Browser
) -> None:
    base = portal_stack.url
    visited: list[str] = []
    context = await browser.new_context(locale="fr-FR")
    page = await context.new_page()
    title = f"Projet confidentiel {uuid.uuid4().hex[:6]}"
    await sign_in(page, base, "collectivite", COMMUNE, visited)
    await page.get_by_role("link", name="Déposer une demande").first.click()
    await fill_demande(page, title)
    await expect(page.get_by_role("heading", level=1)).to_have_text(title)
    theirs = page.url.split("?")[0]
    await sign_out(page)

    cookies = {c["name"]: c for c in await context.cookies()}
    assert "mg_portal" not in cookies  # signed out: the cookie is gone
    other = next(
        c.code_insee for c in get_territories().communes_of(DEPARTEMENT) if c.code_insee != COMMUNE
    )
    await sign_in(page, base, "collectivite", other, visited)
    session = {c["name"]: c for c in await context.cookies()}["mg_portal"]
    assert session["secure"] and session["httpOnly"] and session["sameSite"] == "Lax"

    response = await page.goto(theirs)
    assert response is not None and response.status in (403, 404)
    await expect(page.get_by_role("heading", level=1)).to_have_text(
        ["Accès refusé"] if response.status == 403 else ["Page introuvable"]
    )
    assert title not in await page.content()
    await assert_accessible(page, visited)

    # Another role's pages and a made-up id.
    response = await page.goto(f"{base}/departement")
    assert response is not None and response.status == 403
    response = await page.goto(f"{base}/collectivite/demandes/{uuid.uuid4()}")
    assert response is not None and response.status == 404

    # A form posted without its anti-forgery token is refused.
    refused = await page.request.post(f"{base}/collectivite/demandes/nouvelle", form={"title": "x"})
    assert refused.status == 400
    await context.close()
