"""One demande's whole way through the portal, by clicks only, in Chromium: the commune
submits it, the proposed actor accepts, the département sends the convention, the commune
signs it with its engagement number, the actor marks a milestone done with a PDF, the
commune downloads that PDF (same SHA-256) and its invoice, the département sees it on its
board. Every page on the way passes axe-core with no serious or critical violation."""

from __future__ import annotations

import hashlib
import re
import uuid
from pathlib import Path

import pytest
from playwright.async_api import Browser, expect

from stack.scenario.missions import deliverable_pdf
from tests.browser.conftest import PortalStack
from tests.browser.pages import (
    assert_accessible,
    click_until,
    fill_demande,
    reload_until,
    shot,
    sign_in,
    sign_out,
    watch_csp,
)

pytestmark = [pytest.mark.kafka, pytest.mark.postgres, pytest.mark.timeout(600)]

COMMUNE = "49007"  # Angers


async def test_journey_by_clicks(
    portal_stack: PortalStack, browser: Browser, tmp_path: Path
) -> None:
    base = portal_stack.url
    visited: list[str] = []
    context = await browser.new_context(accept_downloads=True, locale="fr-FR")
    page = await context.new_page()
    csp_violations = watch_csp(page)
    title = f"Rénovation de l'école {uuid.uuid4().hex[:6]}"

    # The commune submits its demande.
    await sign_in(page, base, "collectivite", COMMUNE, visited)
    await shot(page, "collectivite-accueil")
    await page.get_by_role("link", name="Déposer une demande").first.click()
    await assert_accessible(page, visited)
    await shot(page, "collectivite-formulaire")
    await fill_demande(page, title)
    await expect(page.get_by_role("heading", level=1)).to_have_text(title)
    await assert_accessible(page, visited)
    demande_url = page.url.split("?")[0]
    await sign_out(page)

    # The actor the matching proposed accepts.
    await sign_in(page, base, "actor", portal_stack.actor_id, visited)
    await click_until(page, "Propositions et missions", ".proposition")
    await assert_accessible(page, visited)
    await shot(page, "acteur-propositions")
    await page.get_by_role("button", name="Accepter la proposition").first.click()
    await expect(page.get_by_text("Proposition acceptée.")).to_be_visible()
    await assert_accessible(page, visited)
    mission_url = page.url.split("?")[0]
    await sign_out(page)

    # The département sends the convention billing prepared.
    await sign_in(page, base, "departement", None, visited)
    await page.get_by_role("link", name=title).click()
    await assert_accessible(page, visited)
    send = page.get_by_role("button", name="Envoyer la convention pour signature")
    await reload_until(page, "form[action$='/envoyer']")
    await shot(page, "departement-demande")
    await send.click()
    await expect(page.get_by_text("envoyée à la collectivité pour signature")).to_be_visible()
    await assert_accessible(page, visited)
    await sign_out(page)

    # The commune signs it with its engagement number and service code.
    await sign_in(page, base, "collectivite", COMMUNE, visited)
    await page.get_by_role("link", name=title).click()
    assert page.url == demande_url
    await shot(page, "collectivite-convention-a-signer")
    await page.get_by_label("Numéro d'engagement juridique").fill("EJ-2027-000417")
    await page.get_by_label("Code service (facultatif)").fill("SERV-ECOLES")
    await page.get_by_role("button", name="Signer la convention").click()
    await expect(page.get_by_text(re.compile(r"Convention .* signée\."))).to_be_visible()
    await expect(page.get_by_text("engagement EJ-2027-000417")).to_be_visible()
    await assert_accessible(page, visited)
    await sign_out(page)

    # The actor marks the first milestone done with a PDF deliverable.
    pdf = deliverable_pdf("Diagnostic énergétique", title)
    pdf_path = tmp_path / "diagnostic-energetique.pdf"
    pdf_path.write_bytes(pdf)
    await sign_in(page, base, "actor", portal_stack.actor_id, visited)
    await page.get_by_role("link", name=re.compile(r"^Mission ")).first.click()
    assert page.url == mission_url
    await assert_accessible(page, visited)
    first = page.locator(".jalon").first
    await first.locator("input[type=file]").set_input_files(str(pdf_path))
    await first.get_by_role("button", name="Envoyer le livrable").click()
    await expect(
        page.get_by_text("Livrable « diagnostic-energetique.pdf » ajouté.")
    ).to_be_visible()
    await assert_accessible(page, visited)
    await (
        page.locator(".jalon")
        .first.get_by_role("button", name="Marquer le jalon comme remis")
        .click()
    )
    await expect(page.get_by_text("Jalon marqué comme remis.")).to_be_visible()
    await assert_accessible(page, visited)
    await shot(page, "acteur-mission")
    await sign_out(page)

    # The commune downloads the deliverable (the same bytes) and its invoice.
    await sign_in(page, base, "collectivite", COMMUNE, visited)
    await page.get_by_role("link", name=title).click()
    await assert_accessible(page, visited)
    async with page.expect_download() as deliverable_download:
        await page.get_by_role("link", name="diagnostic-energetique.pdf").click()
    saved = tmp_path / "downloaded.pdf"
    await (await deliverable_download.value).save_as(saved)
    assert hashlib.sha256(saved.read_bytes()).hexdigest() == hashlib.sha256(pdf).hexdigest()
    invoice_link = page.locator("a.facture")
    await reload_until(page, "a.facture")
    async with page.expect_download() as invoice_download:
        await invoice_link.first.click()
    invoice = (await (await invoice_download.value).path()).read_text(encoding="utf-8")
    await shot(page, "collectivite-suivi")
    assert "EJ-2027-000417" in invoice
    await sign_out(page)

    # The département sees it on its board, found by the commune's name. (Not its status:
    # on a shared broker another stack's matching may route the same event its own way.)
    await sign_in(page, base, "departement", None, visited)
    await page.get_by_label("Commune ou EPCI").fill("Angers")
    await page.get_by_role("button", name="Filtrer").click()
    row = page.locator("#tableau tr", has_text=title)
    await expect(row).to_contain_text("Angers")
    await assert_accessible(page, visited)
    await shot(page, "departement-tableau")
    # Its file: the signed convention, the deliverable, the invoice.
    await row.get_by_role("link", name=title).click()
    await expect(page.get_by_text("engagement EJ-2027-000417")).to_be_visible()
    await expect(page.get_by_text("diagnostic-energetique.pdf — Diagnostic remis")).to_be_visible()
    await expect(page.get_by_text(re.compile(r"Facture .* TTC"))).to_be_visible()
    await assert_accessible(page, visited)
    await context.close()
    assert len(visited) >= 20
    assert csp_violations == []
