"""Buyer accounts on the fakes (ADR 0017): set by the département's team or at a
convention's signature, checked in French, published once per change; what they require
refuses an invoice before a number is taken, and the numbering goes on without a gap."""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from decimal import Decimal

import pytest

from services.billing.domain.buyers import BuyerAccount
from services.billing.domain.chorus_directory import DirectoryEntry
from services.billing.domain.einvoice import check_issuable
from services.billing.domain.identities import References, siret_valid
from services.billing.domain.invoice import Collectivite, InvoiceFilter, Totals
from services.billing.entrypoints import http_buyers
from services.billing.service_layer import adhesions, buyers, cotisation_run, invoices
from shared.auth.tokens import Principal, Role
from shared.contracts.billing import BuyerAccountRegistered
from shared.contracts.vocabulary import RequesterKind
from shared.errors import DomainValidationError, Forbidden, NotFound
from shared.refdata import get_territories
from stack.scenario.facturx import stand_in_siret
from tests.support.billing_http import billing_client
from tests.support.facturx_samples import COMMUNE_SIRET, EPCI_SIREN, EPCI_SIRET, cotisation
from tests.unit.billing_missions import NOW, TEAM_49, bill, completion, sign_mission
from tests.unit.fakes.billing import FakeUnitOfWork

TEAM_78 = Principal(Role.DEPARTEMENT, "agent-78", "78")
ANGERS = Principal(Role.COLLECTIVITE, "mairie", "49", scope="49007")
ADMIN = Principal(Role.ADMIN, "admin", None)


async def put(
    uow: FakeUnitOfWork,
    code: str = "49007",
    siret: str = COMMUNE_SIRET,
    who: Principal = TEAM_49,
    **flags: bool | str | None,
) -> BuyerAccount:
    return await buyers.register_buyer(
        uow,
        who,
        "49",
        code,
        siret=siret,
        service_code=flags.pop("service_code", None),  # type: ignore[arg-type]
        service_code_required=flags.pop("service_code_required", None),  # type: ignore[arg-type]
        engagement_required=flags.pop("engagement_required", None),  # type: ignore[arg-type]
        territories=get_territories(),
        now=NOW,
    )


def published(uow: FakeUnitOfWork) -> list[BuyerAccountRegistered]:
    return [e for e in uow.events() if isinstance(e, BuyerAccountRegistered)]


async def test_the_team_sets_an_account_published_once_per_change() -> None:
    uow = FakeUnitOfWork()
    account = await put(uow, siret="214 900 078 00012", service_code="SERV-TECH")
    assert account.siret == COMMUNE_SIRET
    assert account.collectivite == Collectivite("49007", RequesterKind.COMMUNE, "Angers")
    assert await buyers.read_buyer(uow, TEAM_49, None, "49007") == account
    assert await buyers.read_buyer(uow, ANGERS, "49", "49007") == account
    # The same again changes nothing, and says nothing.
    await put(uow, service_code="SERV-TECH")
    await put(uow, service_code="SERV-TECH", engagement_required=True)
    [first, second] = published(uow)
    assert (first.siret, first.service_code, first.engagement_required) == (
        COMMUNE_SIRET,
        "SERV-TECH",
        False,
    )
    assert second.engagement_required and second.source == "api"
    assert [a.siret for a in await buyers.list_buyers(uow, TEAM_49, None, 10, 0)] == [COMMUNE_SIRET]


async def test_a_wrong_siret_or_service_code_is_refused_in_french_field_by_field() -> None:
    uow = FakeUnitOfWork()
    with pytest.raises(DomainValidationError) as exc:
        await put(uow, siret="21490007800013", service_code="<script>")
    assert [e.field for e in exc.value.errors] == ["buyer.siret", "buyer.service_code"]
    assert "n'est pas un SIRET valide" in exc.value.errors[0].message
    # An EPCI's establishment belongs to it: its SIRET begins with its SIREN.
    with pytest.raises(DomainValidationError, match=f"SIREN {EPCI_SIREN}"):
        await put(uow, EPCI_SIREN, siret=COMMUNE_SIRET)
    assert (await put(uow, EPCI_SIREN, siret=EPCI_SIRET)).collectivite.kind == "epci"  # type: ignore[union-attr]
    with pytest.raises(DomainValidationError, match="n'appartient pas au département"):
        await put(uow, "78646")
    with pytest.raises(Forbidden):
        await put(uow, who=TEAM_78)
    with pytest.raises(NotFound, match="Aucun compte acheteur"):
        await buyers.read_buyer(uow, TEAM_49, None, "49099")
    with pytest.raises(Forbidden):
        await buyers.read_buyer(uow, ANGERS, None, EPCI_SIREN)
    assert len(published(uow)) == 1


async def test_a_signature_with_a_siret_makes_the_account_in_its_transaction() -> None:
    uow = FakeUnitOfWork()
    event = completion()
    signed = await sign_mission(uow, event, service_code="SERV-URBA", siret=COMMUNE_SIRET)
    account = await buyers.read_buyer(uow, TEAM_49, None, "49007")
    assert (account.siret, account.service_code, account.source) == (
        COMMUNE_SIRET,
        "SERV-URBA",
        "convention",
    )
    [event_out] = published(uow)
    assert event_out.collectivite_code == signed.parties.collectivite.code


async def test_a_required_service_code_missing_refuses_the_signature_before_numbering() -> None:
    uow = FakeUnitOfWork()
    await put(uow, service_code_required=True)
    event = completion()
    with pytest.raises(DomainValidationError) as exc:
        await sign_mission(uow, event)
    assert [e.field for e in exc.value.errors] == ["buyer.service_code"]
    assert "exige un code service" in exc.value.errors[0].message
    await uow.rollback()
    assert uow.invoices.counters == {}
    # Signed with one: the advance takes the first number, no gap.
    other = completion()
    await sign_mission(uow, other, service_code="SERV-TECH")
    [advance] = await uow.invoices.search(InvoiceFilter("49", 2027), limit=None, offset=0)
    assert advance.sequence == 1 and advance.contract is not None
    assert advance.contract.service_code == "SERV-TECH"


async def test_a_balance_the_buyer_would_refuse_is_kept_unbilled_and_takes_no_number() -> None:
    uow = FakeUnitOfWork()
    first, second = completion(), completion()
    await sign_mission(uow, first)
    await sign_mission(uow, second, service_code="SERV-TECH")
    assert uow.invoices.counters == {("49", 2027): 2}
    # The directory says, after the signatures, that Angers requires a service code.
    await put(uow, service_code_required=True)
    assert await bill(uow, first) is None
    [kept] = await uow.conventions.unbilled("49", 10, 0)
    assert kept.assignment_id == first.assignment_id
    assert "exige un code service" in kept.reason
    assert uow.invoices.counters == {("49", 2027): 2}
    balance = await bill(uow, second)
    assert balance is not None and balance.sequence == 3


async def test_a_required_engagement_leaves_the_cotisation_uninvoiced_without_a_gap() -> None:
    db = FakeUnitOfWork()
    territories = get_territories()
    await adhesions.enrol(db, 2027, ["49"], territories, NOW, share=0.01, seed=3)
    members, _ = await db.adhesions.search("49", 2027, 1000, 0)
    refusing = members[1].collectivite_code
    await buyers.register_buyer(
        db,
        TEAM_49,
        "49",
        refusing,
        siret=EPCI_SIRET if len(refusing) == 9 else COMMUNE_SIRET,
        service_code=None,
        service_code_required=None,
        engagement_required=True,
        territories=territories,
        now=NOW,
    )
    plan = await cotisation_run.open_run(lambda: FakeUnitOfWork(db), 2027, ["49"], NOW)
    clock = iter(NOW + timedelta(seconds=n) for n in range(1000))
    progress = await cotisation_run.run_cotisations(
        lambda: FakeUnitOfWork(db), plan, lambda: next(clock), batch=2
    )
    assert progress.refused == [refusing]
    issued = await db.invoices.search(InvoiceFilter("49", 2027), limit=None, offset=0)
    assert [i.sequence for i in issued] == list(range(1, len(members)))
    assert refusing not in {i.collectivite.code for i in issued}
    run = await cotisation_run.read_run(db, ADMIN, plan.run_id)
    assert (run["issued"], run["already_invoiced"]) == (len(members) - 1, 0)


async def test_a_credit_note_the_buyer_would_refuse_takes_no_number() -> None:
    uow = FakeUnitOfWork()
    invoice = cotisation("49", RequesterKind.COMMUNE, "49007", 50_000, 1)
    await uow.invoices.add([invoice])
    await uow.invoices.take_numbers("49", 2027, 1)
    await uow.commit()
    await put(uow, engagement_required=True)
    with pytest.raises(DomainValidationError, match="numéro d'engagement juridique"):
        await invoices.cancel_invoice(uow, TEAM_49, invoice.id, "Erreur", NOW)
    await uow.rollback()
    assert uow.invoices.counters == {("49", 2027): 1}
    await put(uow, engagement_required=False)
    credit = await invoices.cancel_invoice(uow, TEAM_49, invoice.id, "Erreur", NOW)
    assert credit.sequence == 2 and credit.number == "49-2027-000002"


def test_totals_that_are_not_the_sum_of_the_lines_are_refused_before_numbering() -> None:
    invoice = cotisation("49", RequesterKind.COMMUNE, "49007", 50_000, 1)
    check_issuable(invoice, None, References())
    wrong = dataclasses.replace(
        invoice,
        totals=Totals(
            invoice.totals.excl_tax,
            invoice.totals.vat,
            invoice.totals.incl_tax + Decimal("0.01"),
        ),
    )
    with pytest.raises(DomainValidationError) as exc:
        check_issuable(wrong, None, References())
    assert [e.field for e in exc.value.errors] == ["totals"]
    line = dataclasses.replace(invoice.lines[0], vat_amount=Decimal("1.00"))
    broken = dataclasses.replace(invoice, lines=(line, *invoice.lines[1:]))
    with pytest.raises(DomainValidationError) as exc:
        check_issuable(broken, None, References())
    assert "lines.1.amount_incl_tax" in [e.field for e in exc.value.errors]


async def test_the_directory_sets_requirements_by_siret_and_a_second_import_changes_nothing() -> (
    None
):
    uow = FakeUnitOfWork()
    await put(uow)
    await put(uow, EPCI_SIREN, siret=EPCI_SIRET, service_code="FIN")
    entries = [
        DirectoryEntry(COMMUNE_SIRET, "COMMUNE D'ANGERS", False, True, services=("SERV-TECH",)),
        DirectoryEntry(EPCI_SIRET, "ANGERS LOIRE METROPOLE", True, False, services=("FIN", "RH")),
        DirectoryEntry("21490099900015", "COMMUNE DE CHOLET", True, True),
    ]
    counts = buyers.ImportCounts()
    await buyers.import_directory(uow, entries, NOW, counts)
    await uow.commit()
    assert (counts.structures, counts.matched, counts.changed, counts.unknown) == (3, 2, 2, 1)
    angers = await buyers.read_buyer(uow, TEAM_49, None, "49007")
    assert (angers.engagement_required, angers.service_code_required, angers.services) == (
        True,
        False,
        ("SERV-TECH",),
    )
    assert angers.source == "directory"
    before = len(published(uow))
    again = buyers.ImportCounts()
    await buyers.import_directory(uow, entries, NOW + timedelta(days=1), again)
    await uow.commit()
    assert (again.matched, again.changed) == (2, 0)
    assert len(published(uow)) == before
    # A service code the directory does not list for the establishment is refused.
    with pytest.raises(DomainValidationError, match="services connus : FIN, RH"):
        await put(uow, EPCI_SIREN, siret=EPCI_SIRET, service_code="COMPTA")


async def test_the_api_answers_a_french_422_with_the_field_then_the_account() -> None:
    uow = FakeUnitOfWork()
    async with billing_client(http_buyers.buyers_router, TEAM_49, uow) as client:
        wrong = await client.put("/v1/buyers/49007", json={"siret": "21490007800013"})
        put_ok = await client.put(
            "/v1/buyers/49007", json={"siret": COMMUNE_SIRET, "service_code": "SERV-TECH"}
        )
        read = await client.get("/v1/buyers/49007")
        listed = await client.get("/v1/buyers", params={"departement": "49"})
        client.as_principal(TEAM_78)
        other = await client.put(
            "/v1/buyers/49007", json={"departement": "49", "siret": COMMUNE_SIRET}
        )
    assert wrong.status_code == 422
    [error] = wrong.json()["errors"]
    assert error["field"] == "buyer.siret" and "n'est pas un SIRET valide" in error["message"]
    assert put_ok.status_code == 200, put_ok.text
    assert read.json()["siret"] == COMMUNE_SIRET
    assert read.json()["service_code"] == "SERV-TECH"
    assert [a["collectivite_code"] for a in listed.json()] == ["49007"]
    assert other.status_code == 403


def test_the_demo_stand_in_sirets_are_valid_for_every_collectivite() -> None:
    territories = get_territories()
    for departement in ("49", "24", "78", "2A"):
        codes = [c.code_insee for c in territories.communes_of(departement)]
        codes += [e.siren for e in territories.epcis_of(departement)]
        for code in codes:
            siret = stand_in_siret(code)
            assert siret_valid(siret) and (len(code) == 5 or siret.startswith(code)), code
