"""The billing use cases on in-memory repositories: adhésions, tariffs, mission invoices,
credit notes, the cotisation run, their idempotency and who may do what."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from uuid import UUID, uuid4

import pytest

from services.billing.domain.invoice import Invoice, InvoiceFilter, totals
from services.billing.domain.shipped_tariffs import tariff_for
from services.billing.domain.tariff import TariffError, tariff_to_dict
from services.billing.service_layer import (
    adhesions,
    cotisation_run,
    invoices,
    mission_invoices,
    tariffs,
)
from shared.auth.tokens import Principal, Role
from shared.contracts.billing import (
    AdhesionEnded,
    AdhesionRegistered,
    CreditNoteIssued,
    InvoiceIssued,
)
from shared.errors import Conflict, DomainValidationError, Forbidden, NotFound
from shared.messaging.envelope import Envelope
from shared.refdata import get_territories
from tests.unit.billing_missions import NOW, TEAM_49, bill, completion, sign_mission
from tests.unit.fakes.billing import FakeUnitOfWork

ADMIN = Principal(Role.ADMIN, "admin", None)
TEAM_78 = Principal(Role.DEPARTEMENT, "agent-78", "78")
ANGERS = Principal(Role.COLLECTIVITE, "mairie", "49", scope="49007")
ACTOR_49 = Principal(Role.ACTOR, "caue", "49", scope="caue49")


async def register(uow: FakeUnitOfWork, code: str = "49007", who: Principal = TEAM_49) -> UUID:
    found = await adhesions.register_adhesion(uow, who, code, "49", 2027, get_territories(), NOW)
    return found.id


# --- adhésions -------------------------------------------------------------------------


async def test_an_adhesion_is_stored_with_its_event_in_one_commit() -> None:
    uow = FakeUnitOfWork()
    adhesion_id = await register(uow)
    assert uow.commits == 1
    [event] = uow.events()
    assert isinstance(event, AdhesionRegistered)
    assert (event.adhesion_id, event.collectivite_name) == (adhesion_id, "Angers")
    stored = await uow.adhesions.of(2027, "49007")
    assert stored is not None and stored.active and stored.population > 150_000


async def test_an_adhesion_is_registered_once_per_year() -> None:
    uow = FakeUnitOfWork()
    await register(uow)
    with pytest.raises(Conflict, match="déjà adhérente pour 2027"):
        await register(uow)
    assert len(uow.events()) == 1


async def test_only_the_team_of_the_departement_registers_its_collectivites() -> None:
    uow = FakeUnitOfWork()
    with pytest.raises(Forbidden):
        await register(uow, who=TEAM_78)
    with pytest.raises(Forbidden):
        await register(uow, who=ANGERS)
    with pytest.raises(DomainValidationError):
        await register(uow, code="78646")  # Versailles is not in the 49
    with pytest.raises(DomainValidationError):
        await register(uow, code="00000")
    assert uow.events() == []


async def test_ending_an_adhesion_says_so_once() -> None:
    uow = FakeUnitOfWork()
    adhesion_id = await register(uow)
    ended = await adhesions.end_adhesion(uow, TEAM_49, adhesion_id, "Départ", NOW)
    again = await adhesions.end_adhesion(uow, TEAM_49, adhesion_id, "Départ", NOW)
    assert ended.status == again.status == "ended"
    assert [type(e) for e in uow.events()] == [AdhesionRegistered, AdhesionEnded]
    with pytest.raises(NotFound):
        await adhesions.end_adhesion(uow, TEAM_49, uuid4(), None, NOW)
    with pytest.raises(Forbidden):
        await adhesions.end_adhesion(uow, TEAM_78, adhesion_id, None, NOW)


async def test_enrolling_makes_every_commune_and_epci_a_member_once() -> None:
    uow = FakeUnitOfWork()
    territories = get_territories()
    added = await adhesions.enrol(uow, 2027, ["90"], territories, NOW)
    expected = len(territories.communes_of("90")) + sum(
        territories.home_departement(e.siren) == "90" for e in territories.epcis_of("90")
    )
    assert added == expected == len(uow.events())
    assert await adhesions.enrol(uow, 2027, ["90"], territories, NOW) == 0
    page, total = await adhesions.list_adhesions(uow, ADMIN, "90", 2027, 10, 0)
    assert total == expected and len(page) == 10
    with pytest.raises(Forbidden):
        await adhesions.list_adhesions(uow, ANGERS, None, None, 10, 0)
    with pytest.raises(Forbidden):
        await adhesions.list_adhesions(uow, TEAM_49, "90", None, 10, 0)


# --- tariffs ---------------------------------------------------------------------------


async def test_the_shipped_tariff_is_stored_at_first_use_and_then_read_back() -> None:
    uow = FakeUnitOfWork()
    version, tariff = await tariffs.resolve_tariff(uow, "49", 2027, NOW)
    assert (version, tariff) == (1, tariff_for("49", 2027))
    await uow.commit()
    assert await tariffs.resolve_tariff(uow, "49", 2027, NOW) == (1, tariff)
    # A département without its own tariff gets the national reference, stored as well.
    version, reference = await tariffs.resolve_tariff(uow, "12", 2027, NOW)
    assert version == 1 and reference.departement == "12" and "référence" in reference.label


async def test_a_team_publishes_a_new_version_of_its_own_tariff_only() -> None:
    uow = FakeUnitOfWork()
    await tariffs.tariff_in_force(uow, TEAM_49, "49", 2027, get_territories(), NOW)
    document = tariff_to_dict(tariff_for("49", 2027))
    document["epci"]["rate"] = "0.20"
    version, published = await tariffs.publish_tariff(uow, TEAM_49, document, NOW)
    assert version == 2 and published.epci_rate == Decimal("0.20")
    version, in_force = await tariffs.resolve_tariff(uow, "49", 2027, NOW)
    assert (version, in_force.version, in_force.epci_rate) == (2, 2, Decimal("0.20"))
    with pytest.raises(TariffError, match="pas celui du département 78"):
        await tariffs.publish_tariff(uow, TEAM_78, document, NOW)
    with pytest.raises(Forbidden):
        await tariffs.publish_tariff(uow, ANGERS, document, NOW)
    with pytest.raises(Forbidden):
        await tariffs.tariff_in_force(uow, TEAM_78, "49", 2027, get_territories(), NOW)
    with pytest.raises(NotFound):
        await tariffs.tariff_in_force(uow, ADMIN, "99", 2027, get_territories(), NOW)


# --- mission invoices ------------------------------------------------------------------


async def test_a_mission_is_invoiced_on_its_convention_at_the_member_or_non_member_rate() -> None:
    uow = FakeUnitOfWork()
    await register(uow, "49007")
    member_event, other_event = completion("49007"), completion("49002")
    member_convention = await sign_mission(uow, member_event)
    other_convention = await sign_mission(uow, other_event)
    member = await bill(uow, member_event)
    other = await bill(uow, other_event)
    assert member is not None and other is not None
    # The advances at signature took 1 and 2; the balances follow.
    assert [member.number, other.number] == ["49-2027-000003", "49-2027-000004"]
    # 49-2027: a CAUE day costs 340 € to members and 500 € to the others.
    assert member_convention.totals.incl_tax == Decimal("850.00")
    assert other_convention.totals.incl_tax == Decimal("1250.00")
    assert "tarif adhérent" in member_convention.lines[0].label
    assert "tarif non adhérent" in other_convention.lines[0].label
    events = [e for e in uow.events() if isinstance(e, InvoiceIssued)]
    # 30 % at signature, 70 % at delivery: the invoices add up to the convention.
    assert [e.total_incl_tax for e in events] == [
        Decimal("255.00"),
        Decimal("375.00"),
        Decimal("595.00"),
        Decimal("875.00"),
    ]
    assert events[2].assignment_id == member.assignment_id
    assert {e.convention_number for e in events[::2]} == {member_convention.number}


async def test_a_redelivered_completion_is_not_invoiced_twice() -> None:
    uow = FakeUnitOfWork()
    event = completion()
    await sign_mission(uow, event)
    assert await bill(uow, event) is not None
    assert await bill(uow, event) is None
    assert len([e for e in uow.events() if isinstance(e, InvoiceIssued)]) == 2
    assert uow.invoices.counters == {("49", 2027): 2}


async def test_a_rolled_back_invoice_gives_its_number_back() -> None:
    uow = FakeUnitOfWork()
    event = completion()
    await sign_mission(uow, event)
    envelope = Envelope(type="t", source="matching", departement="49")
    await mission_invoices.invoice_mission(uow, event, envelope)
    await uow.rollback()
    invoice = await bill(uow, event)
    assert invoice is not None and invoice.sequence == 2


# --- credit notes ----------------------------------------------------------------------


async def test_a_credit_note_negates_the_invoice_and_refers_to_it() -> None:
    uow = FakeUnitOfWork()
    event = completion()
    await sign_mission(uow, event)
    invoice = await bill(uow, event)
    assert invoice is not None
    credit = await invoices.cancel_invoice(uow, TEAM_49, invoice.id, "Erreur de saisie", NOW)
    assert credit.document_kind == "credit_note" and credit.refers_to == invoice.id
    assert credit.number == "49-2027-000003"
    assert totals(invoice.lines + credit.lines).incl_tax == Decimal("0.00")
    assert credit.totals.incl_tax == -invoice.totals.incl_tax
    event = uow.events()[-1]
    assert isinstance(event, CreditNoteIssued)
    assert (event.refers_to_number, event.reason) == (invoice.number, "Erreur de saisie")
    # Cancelling again gives the same credit note; a credit note is not cancelled.
    before = len(uow.events())
    again = await invoices.cancel_invoice(uow, TEAM_49, invoice.id, "Encore", NOW)
    assert again.id == credit.id and len(uow.events()) == before
    with pytest.raises(Conflict, match="Un avoir ne s'annule pas"):
        await invoices.cancel_invoice(uow, TEAM_49, credit.id, "Non", NOW)
    assert uow.invoices.staged_counters == {}, "no number is taken for a refused cancellation"
    with pytest.raises(Forbidden):
        await invoices.cancel_invoice(uow, TEAM_78, invoice.id, "Non", NOW)
    with pytest.raises(NotFound):
        await invoices.cancel_invoice(uow, TEAM_49, uuid4(), "Non", NOW)
    document = await invoices.invoice_document(uow, TEAM_49, credit.id)
    assert f"Avoir portant sur la facture n° {invoice.number}" in document


async def test_who_reads_which_invoices() -> None:
    uow = FakeUnitOfWork()
    angers_event, allonnes_event = completion("49007"), completion("49002")
    await sign_mission(uow, angers_event, "EJ-ANGERS")
    await sign_mission(uow, allonnes_event, "EJ-ALLONNES", "SERVICE-TECH")
    angers = await bill(uow, angers_event)
    allonnes = await bill(uow, allonnes_event)
    assert angers is not None and allonnes is not None
    mine = await invoices.list_invoices(
        uow, ANGERS, departement=None, year=None, collectivite="49002", limit=10, offset=0
    )
    assert [i.id for i in mine][-1] == angers.id and len(mine) == 2
    assert (await invoices.read_invoice(uow, ANGERS, angers.id)).id == angers.id
    with pytest.raises(Forbidden):
        await invoices.read_invoice(uow, ANGERS, allonnes.id)
    with pytest.raises(NotFound):
        await invoices.read_invoice(uow, TEAM_78, angers.id)
    with pytest.raises(NotFound):
        await invoices.read_invoice(uow, ACTOR_49, angers.id)
    with pytest.raises(Forbidden):
        await invoices.list_invoices(
            uow, ACTOR_49, departement=None, year=None, collectivite=None, limit=10, offset=0
        )
    with pytest.raises(Forbidden):
        await invoices.export_csv(uow, ANGERS, 2027, None)
    csv = await invoices.export_csv(uow, TEAM_49, 2027, None)
    # Two invoices per mission (advance, balance), each citing its convention.
    assert csv.count("\r\n") == 5
    assert csv.count(";875.00;0.00;875.00;;CONV-49-2027-000002;EJ-ALLONNES;SERVICE-TECH") == 1
    assert csv.count(";EJ-ANGERS;\r\n") == 2


# --- the cotisation run ----------------------------------------------------------------


async def test_the_cotisation_run_invoices_every_member_once_without_gap() -> None:
    db = FakeUnitOfWork()
    territories = get_territories()
    members = await adhesions.enrol(db, 2027, ["90"], territories, NOW)
    leaving = await db.adhesions.of(2027, "90001")
    assert leaving is not None
    await adhesions.end_adhesion(db, ADMIN, leaving.id, None, NOW)
    clock = iter(NOW + timedelta(seconds=n) for n in range(10_000))
    plan = await cotisation_run.open_run(lambda: FakeUnitOfWork(db), 2027, None, NOW)
    assert (plan.departements, plan.members) == (["90"], members - 1)
    seen: list[int] = []
    progress = await cotisation_run.run_cotisations(
        lambda: FakeUnitOfWork(db), plan, lambda: next(clock), lambda p: seen.append(p.issued), 40
    )
    assert progress.issued == members - 1 and seen == [40, 80, members - 1]
    issued = await db.invoices.search(InvoiceFilter("90", 2027), limit=None, offset=0)
    assert [i.sequence for i in issued] == list(range(1, members))
    assert progress.amount_incl_tax == sum(i.totals.incl_tax for i in issued)
    assert "90001" not in {i.collectivite.code for i in issued}
    run = await cotisation_run.read_run(db, ADMIN, plan.run_id)
    assert (run["status"], run["issued"], run["already_invoiced"]) == ("finished", members - 1, 0)
    # Run again: everyone is already invoiced.
    again = await cotisation_run.open_run(lambda: FakeUnitOfWork(db), 2027, ["90"], NOW)
    done = await cotisation_run.run_cotisations(lambda: FakeUnitOfWork(db), again, lambda: NOW)
    assert done.issued == 0
    assert (await cotisation_run.read_run(db, ADMIN, again.run_id))["already_invoiced"] == (
        members - 1
    )
    with pytest.raises(NotFound):
        await cotisation_run.read_run(db, TEAM_49, plan.run_id)


async def test_who_may_start_a_cotisation_run() -> None:
    assert cotisation_run.run_departements(ADMIN, []) == []
    assert cotisation_run.run_departements(TEAM_49, []) == ["49"]
    assert cotisation_run.run_departements(TEAM_49, ["49"]) == ["49"]
    with pytest.raises(Forbidden):
        cotisation_run.run_departements(TEAM_49, ["78"])
    with pytest.raises(Forbidden):
        cotisation_run.run_departements(ANGERS, [])


async def test_a_failed_run_is_recorded_and_a_silent_one_interrupted() -> None:
    db = FakeUnitOfWork()
    await adhesions.enrol(db, 2027, ["90"], get_territories(), NOW)
    plan = await cotisation_run.open_run(lambda: FakeUnitOfWork(db), 2027, ["90"], NOW)

    async def broken(documents: list[Invoice]) -> None:
        raise RuntimeError("disk full")

    db.invoices.add = broken  # type: ignore[method-assign]
    with pytest.raises(RuntimeError):
        await cotisation_run.run_cotisations(lambda: FakeUnitOfWork(db), plan, lambda: NOW)
    failed = await cotisation_run.read_run(db, ADMIN, plan.run_id)
    assert failed["status"] == "failed" and "disk full" in failed["error"]
    assert db.invoices.counters == {}, "the failed batch's numbers were given back"
    silent = await cotisation_run.open_run(lambda: FakeUnitOfWork(db), 2027, ["90"], NOW)
    later = NOW + cotisation_run.STALE_RUN + timedelta(seconds=1)
    assert await cotisation_run.interrupt_stale_runs(db, later) == 1
    assert (await db.runs.get(silent.run_id) or {})["status"] == "interrupted"
