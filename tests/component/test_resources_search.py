"""French full-text search over sheets and retours d'expérience, on the real PostgreSQL
(``mg_french``: unaccent then the French stemmer, generated tsvector, GIN index)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from uuid import UUID, uuid4

import pytest
from sqlalchemy import text

from services.resources.domain.sheets import CommuneSize, HitKind, SearchHit, SearchQuery
from services.resources.service_layer import experiences, sheets
from shared.auth.tokens import Principal, Role
from shared.contracts.matching import AssignmentCompleted, NeedRef
from shared.contracts.resources import SheetKind
from shared.contracts.vocabulary import Phase, Theme
from shared.errors import Forbidden
from shared.refdata import get_territories
from tests.component.resources_setup import ResourcesDatabase, resources_db

__all__ = ["resources_db"]

pytestmark = [pytest.mark.postgres]

NOW = datetime(2027, 3, 1, 9, 0, tzinfo=UTC)
TEAM_49 = Principal(Role.DEPARTEMENT, "team-49", "49")
TEAM_44 = Principal(Role.DEPARTEMENT, "team-44", "44")
READER_49 = Principal(Role.COLLECTIVITE, "mairie", "49", "49010")
MUST_SHOW = "assainissement non collectif petite commune"
# Armaillé (49010), 314 inhabitants: a small commune of Maine-et-Loire.
SMALL_COMMUNE = "49010"


def draft(
    title: str,
    summary: str,
    body: str,
    *,
    kind: SheetKind = SheetKind.GUIDE,
    themes: tuple[Theme, ...] = (Theme.EAU_ASSAINISSEMENT,),
    national: bool = False,
) -> sheets.SheetDraft:
    return sheets.SheetDraft(
        title=title,
        summary=summary,
        body=body,
        kind=kind,
        themes=list(themes),
        phases=[Phase.FAISABILITE],
        links=["https://www.assainissement.developpement-durable.gouv.fr/"],
        review_on=date(2026, 12, 31),
        national=national,
    )


SHEETS = {
    "guide": (
        TEAM_49,
        draft(
            "L'assainissement non collectif dans les petites communes",
            "Le SPANC, les contrôles des installations d'assainissement non collectif et les "
            "aides à la réhabilitation pour les petites communes rurales.",
            "## Qui contrôle ?\n\nLa commune, ou son EPCI, exerce la compétence *SPANC*…",
        ),
    ),
    "national": (
        TEAM_49,
        draft(
            "Réglementation : assainissements non collectifs et petites communes",
            "Les arrêtés applicables aux installations d'assainissement non collectif, ce que "
            "le maire d'une petite commune doit vérifier.",
            "L'arrêté du 7 septembre 2009 fixe les prescriptions techniques…",
            kind=SheetKind.REGULATION,
            national=True,
        ),
    ),
    "decoy": (
        TEAM_49,
        draft(
            "Voirie communale : entretenir les chemins ruraux",
            "Fauchage, curage des fossés et budget d'entretien de la voirie communale.",
            "Le curage des fossés est souvent confié à une entreprise. " * 8
            + "Une petite commune peut mutualiser ce marché. " * 6
            + "Les fossés ne reçoivent aucun rejet : l'assainissement non collectif "
            "des riverains relève du SPANC.",
            themes=(Theme.VOIRIE_RESEAUX,),
        ),
    ),
    "other_departement": (
        TEAM_44,
        draft(
            "Assainissement non collectif en Loire-Atlantique : petites communes",
            "Une fiche de Loire-Atlantique, que le Maine-et-Loire ne voit pas.",
            "Contenu propre à la Loire-Atlantique.",
        ),
    ),
    "unrelated": (
        TEAM_49,
        draft(
            "Rénovation énergétique des écoles",
            "Isolation, chauffage et aides pour les bâtiments scolaires.",
            "Le décret tertiaire impose une baisse des consommations…",
            themes=(Theme.ENERGIE,),
        ),
    ),
}


async def publish_experience(db: ResourcesDatabase, *, consented: bool, title: str) -> UUID:
    completed = AssignmentCompleted(
        assignment_id=uuid4(),
        request_id=uuid4(),
        departement="49",
        actor_id="satese-49",
        actor_name="SATESE 49",
        actor_kind="public",
        requester_code=SMALL_COMMUNE,
        requester_kind="commune",
        needs=[NeedRef(theme=Theme.EAU_ASSAINISSEMENT, phase=Phase.TRAVAUX)],
        days_spent=Decimal("6.5"),
        started_at=NOW,
        completed_at=NOW,
    )
    async with db.new_uow() as uow:
        found = await experiences.draft_from_mission(uow, completed, get_territories(), NOW)
    assert found is not None
    actor = Principal(Role.ACTOR, "satese", "49", "satese-49")
    async with db.new_uow() as uow:
        await experiences.write(
            uow,
            actor,
            found.id,
            experiences.ExperienceText(
                title=title,
                context="Commune rurale de 314 habitants, installations anciennes.",
                what_was_done="Diagnostic des installations d'assainissement non collectif, "
                "groupement de commandes pour la réhabilitation de 40 installations.",
                lessons="Grouper les chantiers fait baisser les prix.",
                contacts="Mairie d'Armaillé",
                cost=Decimal("12000.00"),
                duration_days=Decimal("6.5"),
            ),
        )
    if consented:
        async with db.new_uow() as uow:
            await experiences.consent(uow, READER_49, found.id, True, NOW)
    return found.id


@pytest.fixture(scope="module")
async def library(resources_db: ResourcesDatabase) -> dict[str, UUID]:
    ids: dict[str, UUID] = {}
    for name, (author, sheet) in SHEETS.items():
        async with resources_db.new_uow() as uow:
            ids[name] = (await sheets.publish_sheet(uow, author, uuid4(), sheet, NOW)).id
    ids["experience"] = await publish_experience(
        resources_db,
        consented=True,
        title="Réhabiliter l'assainissement non collectif d'une petite commune",
    )
    ids["unconsented"] = await publish_experience(
        resources_db,
        consented=False,
        title="Assainissement non collectif : une petite commune sans consentement",
    )
    return ids


async def find(
    db: ResourcesDatabase, query: SearchQuery, *, limit: int = 20, offset: int = 0
) -> tuple[list[SearchHit], int]:
    async with db.new_uow() as uow:
        return await sheets.search(uow, READER_49, query, limit=limit, offset=offset)


async def test_unaccent_is_an_extension_of_the_embedded_postgresql(
    resources_db: ResourcesDatabase, library: dict[str, UUID]
) -> None:
    async with resources_db.new_uow() as uow:
        installed = await uow.session.execute(
            text("SELECT extversion FROM pg_extension WHERE extname = 'unaccent'")
        )
        assert installed.scalar_one()
        same = await uow.session.execute(
            text(
                "SELECT to_tsvector('mg_french', 'Écoles Réglementations') "
                "= to_tsvector('mg_french', 'ecole reglementation')"
            )
        )
        assert same.scalar_one() is True


@pytest.mark.parametrize(
    "words",
    [
        MUST_SHOW,
        "ASSAINISSEMENTS NON COLLECTIFS PETITES COMMUNES",
        # No accent typed; the texts write « réhabilitation », « Réhabiliter ».
        "assainissement non collectif petite commune rehabilitation",
    ],
)
async def test_the_sheets_and_experiences_about_it_rank_first(
    resources_db: ResourcesDatabase, library: dict[str, UUID], words: str
) -> None:
    hits, total = await find(resources_db, SearchQuery(text=words))
    ranked = [(h.kind.value, h.title, round(h.rank, 4)) for h in hits]
    print(f"\nsearch {words!r}: {total} hits")
    for line in ranked:
        print("  ", line)
    relevant = {library["guide"], library["national"], library["experience"]}
    if "rehabilitation" in words:
        # Only the texts that speak of réhabilitation.
        relevant = {library["guide"], library["experience"]}
    assert {h.id for h in hits[: len(relevant)]} == relevant
    assert {h.kind for h in hits[: len(relevant)]} == {HitKind.SHEET, HitKind.EXPERIENCE}
    # The voirie sheet names the words once, far apart, in its body: found, ranked after.
    if words == MUST_SHOW:
        assert [h.id for h in hits[len(relevant) :]] == [library["decoy"]]
        assert total == 4
    returned = {h.id for h in hits}
    assert library["other_departement"] not in returned
    assert library["unconsented"] not in returned
    assert library["unrelated"] not in returned
    top = hits[0]
    assert "<mark>" in top.headline


async def test_filters_and_pages(resources_db: ResourcesDatabase, library: dict[str, UUID]) -> None:
    regulations, _ = await find(
        resources_db, SearchQuery(text=MUST_SHOW, kind=SheetKind.REGULATION)
    )
    assert [h.id for h in regulations] == [library["national"]]
    voirie, _ = await find(resources_db, SearchQuery(text=MUST_SHOW, theme=Theme.VOIRIE_RESEAUX))
    assert [h.id for h in voirie] == [library["decoy"]]
    small, _ = await find(
        resources_db, SearchQuery(text=MUST_SHOW, commune_size=CommuneSize.UNDER_500)
    )
    assert [h.id for h in small] == [library["experience"]]
    assert small[0].commune_population == 314
    works, _ = await find(resources_db, SearchQuery(text=MUST_SHOW, phase=Phase.TRAVAUX))
    assert [h.id for h in works] == [library["experience"]]
    everything, total = await find(resources_db, SearchQuery(text=MUST_SHOW))
    second, same_total = await find(resources_db, SearchQuery(text=MUST_SHOW), limit=1, offset=1)
    assert (same_total, [h.id for h in second]) == (total, [everything[1].id])
    beyond, beyond_total = await find(resources_db, SearchQuery(text=MUST_SHOW), offset=50)
    assert (beyond, beyond_total) == ([], total)


@pytest.mark.parametrize(
    "odd",
    [
        '"assainissement non',
        "assainissement & | ! (commune",
        "'); DROP TABLE sheets; --",
        "<script>alert(1)</script>",
        "-",
        "or or or",
        ":* \\ %% _",
        "assainissement -voirie or école",
        "",
    ],
)
async def test_operators_and_odd_characters_never_fail(
    resources_db: ResourcesDatabase, library: dict[str, UUID], odd: str
) -> None:
    hits, total = await find(resources_db, SearchQuery(text=odd))
    assert total == len(hits) or total > len(hits)
    for hit in hits:
        assert "<script>" not in hit.headline
    async with resources_db.new_uow() as uow:
        assert await uow.sheets.get(library["guide"]) is not None


async def test_a_reader_searches_only_its_departement(
    resources_db: ResourcesDatabase, library: dict[str, UUID]
) -> None:
    async with resources_db.new_uow() as uow:
        with pytest.raises(Forbidden):
            await sheets.search(
                uow, READER_49, SearchQuery(text=MUST_SHOW, departement="44"), limit=5, offset=0
            )
        hits, _ = await sheets.search(uow, TEAM_44, SearchQuery(text=MUST_SHOW), limit=20, offset=0)
    # Loire-Atlantique sees its own sheet and the national one, not Maine-et-Loire's.
    assert {h.id for h in hits} == {library["other_departement"], library["national"]}
