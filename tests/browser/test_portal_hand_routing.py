"""A demande nobody covers, routed by hand from the département's board: the team picks
an actor of its catalogue and says why; the actor finds the proposal with that reason."""

from __future__ import annotations

import uuid

import pytest
from playwright.async_api import Browser, expect

from shared.auth.tokens import Role
from shared.settings import AuthSettings
from stack.harness.stack import bearer_header
from tests.browser.conftest import PortalStack
from tests.browser.pages import (
    assert_accessible,
    click_until,
    fill_demande,
    shot,
    sign_in,
    sign_out,
)

pytestmark = [pytest.mark.kafka, pytest.mark.postgres, pytest.mark.timeout(300)]

DEPARTEMENT = "35"
RENNES = "35238"


async def test_the_team_routes_an_unmatched_demande_by_hand(
    portal_stack: PortalStack, browser: Browser
) -> None:
    # Département 35's offer: one actor that treats none of the demande's themes.
    actor_id = f"elus-{uuid.uuid4().hex[:8]}"
    catalogue = {
        "departement": DEPARTEMENT,
        "actors": [
            {
                "id": actor_id,
                "name": "Centre de formation des élus d'Ille-et-Vilaine",
                "kind": "cnfpt",
                "themes": {"formation_elus": 3},
                "phases": ["idee", "faisabilite"],
                "territory": {"departements": [DEPARTEMENT]},
                "capacity": 5,
            }
        ],
    }
    loaded = await portal_stack.stack.client("matching").put(
        "/v1/actors", json=catalogue, headers=bearer_header(AuthSettings(), Role.ADMIN, None)
    )
    assert loaded.status_code == 200, loaded.text

    base = portal_stack.url
    visited: list[str] = []
    context = await browser.new_context(locale="fr-FR")
    page = await context.new_page()
    title = f"Rénovation énergétique du gymnase {uuid.uuid4().hex[:6]}"
    await sign_in(page, base, "collectivite", RENNES, visited, departement=DEPARTEMENT)
    await page.get_by_role("link", name="Déposer une demande").first.click()
    await fill_demande(page, title)
    await expect(page.get_by_role("heading", level=1)).to_have_text(title)
    await sign_out(page)

    await sign_in(page, base, "departement", None, visited, departement=DEPARTEMENT)
    await click_until(page, "Sans acteur", ".sans-acteur")
    await assert_accessible(page, visited)
    card = page.locator(".sans-acteur").first
    await expect(card).to_contain_text("Aucun acteur du catalogue ne couvre ce besoin.")
    await shot(page, "departement-sans-acteur")
    await card.get_by_label("Acteur à proposer").select_option(actor_id)
    await card.get_by_label("Motif").fill("Le centre accompagne déjà la commune sur ce sujet.")
    await card.get_by_role("button", name="Proposer cet acteur").click()
    await expect(page.get_by_text("Acteur proposé ; il a été prévenu.")).to_be_visible()
    await assert_accessible(page, visited)
    await sign_out(page)

    await sign_in(page, base, "actor", actor_id, visited, departement=DEPARTEMENT)
    await click_until(page, "Propositions et missions", ".proposition")
    await expect(page.locator(".proposition").first).to_contain_text(
        "Le centre accompagne déjà la commune sur ce sujet."
    )
    await assert_accessible(page, visited)
    await context.close()
