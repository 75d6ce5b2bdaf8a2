"""The activity report's figures, from facts alone: the year of ``report_events`` worked out
by hand; the same facts in any order give the same report; the open data hides small
counts; the HTML prints French numbers and SVG charts; only the département's team reads."""

from __future__ import annotations

import csv
import io
import json
import random
import uuid
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from services.resources.adapters.report_documents import report_files
from services.resources.domain.open_data import TABLE_SCHEMA, open_data
from services.resources.domain.report_facts import Fact, fact_of
from services.resources.domain.report_figures import ActivityReport, Period, compute
from services.resources.service_layer import reports
from shared.auth.tokens import Principal, Role
from shared.errors import Forbidden
from shared.refdata import get_territories
from tests.unit.fakes.resources import FakeUnitOfWork
from tests.unit.report_events import activity_events

YEAR = 2027
PERIOD = Period("49", YEAR)


def facts() -> list[Fact]:
    territories = get_territories()
    found = [fact_of(str(uuid.uuid4()), e, territories) for e in activity_events(YEAR)]
    return [f for f in found if f is not None]


@pytest.fixture(scope="module")
def report() -> ActivityReport:
    return compute(facts(), PERIOD, get_territories())


def rows(report: ActivityReport, key: str) -> list[list[object]]:
    return report.table(key).rows


def test_the_figures_worked_out_by_hand(report: ActivityReport) -> None:
    assert rows(report, "demandes_par_theme") == [
        ["Eau et assainissement", 2],
        ["Énergie", 1],
        ["Urbanisme (PLU/PLUi, permis)", 1],
        ["Voirie et réseaux", 1],
    ]
    assert sorted(rows(report, "demandes_par_phase")) == [
        ["Faisabilité / programmation", 1],
        ["Idée", 1],
        ["Travaux / réalisation", 1],
        ["Études / conception", 1],
    ]
    assert rows(report, "demandes_par_taille") == [
        ["10 000 habitants et plus", 2],
        ["Moins de 500 habitants", 2],
    ]
    assert [r[1] for r in rows(report, "demandes_par_epci")] == [2, 2]
    assert rows(report, "delais_orientation") == [
        ["Demandes orientées", 4],
        ["Médiane (h)", Decimal("2.0")],
        ["9e décile (h)", Decimal("10.0")],
    ]
    assert rows(report, "acteurs") == [
        ["CAUE de Maine-et-Loire", 2, 1, 0, 1, Decimal("0.5"), Decimal("0"), Decimal("0.5")],
        ["SATESE 49", 2, 1, 1, 0, Decimal("0.5"), Decimal("0.5"), Decimal("0")],
    ]
    assert rows(report, "missions_closes") == [["Bâtiments publics", 1]]
    assert rows(report, "facturation") == [
        ["Cotisations", 1, Decimal("500.00")],
        ["Missions", 1, Decimal("1225.00")],
        ["Total net", 2, Decimal("1725.00")],
    ]
    assert rows(report, "adherents") == [["Adhérentes", 2], ["Non adhérentes", 2]]
    assert rows(report, "besoins_non_couverts") == [["Bâtiments publics", "Armaillé (49010)", 1]]
    assert rows(report, "formations") == [
        ["Sessions", 1],
        ["Places offertes", 10],
        ["Participants inscrits", 2],
        ["Taux de remplissage", Decimal("0.2")],
        ["Participants présents", 0],
    ]
    assert rows(report, "comparaison") == [
        ["Demandes reçues", 4, 1, 1],
        ["Missions achevées", 1, 0, 0],
        ["Montant facturé net (€ TTC)", Decimal("1725.00"), Decimal(0), Decimal(0)],
    ]


def test_a_month_counts_its_own_facts() -> None:
    march = compute(facts(), Period("49", YEAR, 3), get_territories())
    assert rows(march, "comparaison")[0] == ["Demandes reçues", 2, 0, 0]
    assert march.period.label == "mars 2027"


def test_the_same_facts_in_any_order_give_the_same_report(report: ActivityReport) -> None:
    shuffled = facts()
    for seed in range(5):
        random.Random(seed).shuffle(shuffled)
        assert compute(shuffled, PERIOD, get_territories()) == compute(
            facts_like(shuffled), PERIOD, get_territories()
        )


def facts_like(found: list[Fact]) -> list[Fact]:
    return sorted(found, key=lambda f: f.event_id)


def test_open_data_suppresses_counts_below_five(report: ActivityReport) -> None:
    published = open_data(report)
    assert published
    assert all(r.secret == (r.nombre is None) for r in published)
    # This small year has no count of 5 or more: everything is suppressed.
    assert all(r.secret and r.montant_euros is None for r in published)
    names = {f["name"] for f in TABLE_SCHEMA["fields"]}
    reader = csv.DictReader(
        io.StringIO(report_files(report, "Maine-et-Loire", NOW)["open-data.csv"])
    )
    assert set(reader.fieldnames or ()) == names
    for line in reader:
        assert line["nombre"] == "" or int(line["nombre"]) >= 5
        # No commune is named: the uncovered needs are counted by theme only.
        assert "49010" not in line["modalite"] and "Armaillé" not in line["modalite"]


def test_open_data_shows_counts_from_five() -> None:
    many = facts()
    territories = get_territories()
    for _ in range(4):
        many += [
            f for e in activity_events(YEAR) if (f := fact_of(str(uuid.uuid4()), e, territories))
        ]
    published = open_data(compute(many, PERIOD, territories))
    water = next(r for r in published if r.modalite == "Eau et assainissement")
    assert (water.nombre, water.secret) == (10, False)
    billing = next(r for r in published if r.modalite == "Total net")
    assert (billing.nombre, billing.montant_euros) == (10, Decimal("8625.00"))


NOW = datetime(2028, 1, 5, 8, 30, tzinfo=UTC)


def test_the_html_report_is_french_with_svg_charts(report: ActivityReport) -> None:
    files = report_files(report, "Maine-et-Loire", NOW)
    html = files["rapport.html"]
    assert html.count("<svg") >= 8
    assert "1\u202f225,00\u00a0€" in html
    assert "50\u00a0%" in html
    assert "5 janvier 2028 à 9 h 30" in html
    assert "Rapport d'activité — Maine-et-Loire (49), année 2027" in html
    assert files["facturation.csv"].splitlines() == [
        "Nature,Pièces,Euros",
        "Cotisations,1,500.00",
        "Missions,1,1225.00",
        "Total net,2,1725.00",
    ]
    assert json.loads(files["open-data.schema.json"])["missingValues"] == [""]


async def test_only_the_departement_team_reads_its_report() -> None:
    uow = FakeUnitOfWork()
    await reports.replay(
        uow, [(str(uuid.uuid4()), e) for e in activity_events(YEAR)], get_territories()
    )
    team = Principal(Role.DEPARTEMENT, "team", "49")
    assert (await reports.activity_report(uow, team, PERIOD, get_territories())) == compute(
        uow.report_facts.rows, PERIOD, get_territories()
    )
    for other in (
        Principal(Role.DEPARTEMENT, "team", "44"),
        Principal(Role.COLLECTIVITE, "mairie", "49", "49007"),
        Principal(Role.ACTOR, "caue", "49", "caue-49"),
    ):
        with pytest.raises(Forbidden):
            await reports.activity_report(uow, other, PERIOD, get_territories())
