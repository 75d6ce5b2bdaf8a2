"""The conventions on in-memory repositories: prepared on a lead actor's acceptance,
numbered without gap, sent, signed with the engagement number, refused, expired on the
clock, amended; the mission invoiced on their schedule and never without a signature."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

from services.billing.domain.convention import ConventionStatus
from services.billing.domain.shipped_tariffs import tariff_for
from services.billing.domain.tariff import tariff_to_dict
from services.billing.service_layer import adhesions, conventions, invoices, tariffs
from shared.auth.tokens import Principal, Role
from shared.contracts.billing import InvoiceIssued
from shared.contracts.conventions import (
    ConventionAmended,
    ConventionExpired,
    ConventionPrepared,
    ConventionRefused,
    ConventionSent,
    ConventionSigned,
)
from shared.errors import Conflict, DomainValidationError, Forbidden, NotFound
from shared.french import percent
from shared.messaging.envelope import Envelope
from shared.refdata import get_territories
from tests.unit.billing_missions import (
    NOW,
    TEAM_49,
    acceptance,
    bill,
    completion,
    prepare,
    sign_mission,
    signatory,
)
from tests.unit.fakes.billing import FakeUnitOfWork

CAUE_49 = Principal(Role.ACTOR, "caue", "49", scope="caue49")
OTHER_ACTOR = Principal(Role.ACTOR, "atd", "49", scope="atd49")
TEAM_35 = Principal(Role.DEPARTEMENT, "agent-35", "35")


def _of(uow: FakeUnitOfWork, kind: type) -> list:  # type: ignore[type-arg]
    return [e for e in uow.events() if isinstance(e, kind)]


async def test_a_lead_acceptance_prepares_one_convention_numbered_without_gap() -> None:
    uow = FakeUnitOfWork()
    first, second = completion("49007"), completion("244900015")
    one = await prepare(uow, first)
    two = await prepare(uow, second)
    assert [one.number, two.number] == ["CONV-49-2027-000001", "CONV-49-2027-000002"]
    assert one.status is ConventionStatus.BROUILLON and one.version == 0
    # Valid three months from its preparation (the numbering's clock).
    assert one.valid_until == one.prepared_at.replace(month=one.prepared_at.month + 3)
    assert one.parties.structure.startswith("Offre d'ingénierie territoriale du département")
    assert (one.parties.collectivite.code, one.parties.collectivite.name) == ("49007", "Angers")
    assert two.parties.collectivite.kind == "epci"
    envelope = Envelope(type="t", source="matching", departement="49")
    territories = get_territories()
    # A redelivery, or a second acceptance for the demande: still one convention.
    again = await conventions.prepare_convention(uow, acceptance(first), envelope, territories, NOW)
    assert again is None
    # Only the lead actor's acceptance prepares one.
    other = completion()
    not_lead = acceptance(other, lead=False)
    assert await conventions.prepare_convention(uow, not_lead, envelope, territories, NOW) is None
    [prepared, _] = _of(uow, ConventionPrepared)
    assert (prepared.number, prepared.collectivite_code, prepared.version) == (
        one.number,
        "49007",
        0,
    )
    assert prepared.total_incl_tax == one.totals.incl_tax
    assert uow.conventions.counters == {("49", 2027): 2}


async def test_send_sign_and_refuse_belong_to_their_parties() -> None:
    uow = FakeUnitOfWork()
    event = completion("49007")
    prepared = await prepare(uow, event)
    with pytest.raises(Forbidden, match="acteur de la mission"):
        await conventions.send_convention(uow, signatory("49007"), prepared.id, NOW)
    with pytest.raises(NotFound):
        await conventions.send_convention(uow, OTHER_ACTOR, prepared.id, NOW)
    with pytest.raises(NotFound):
        await conventions.read_convention(uow, TEAM_35, prepared.id)
    with pytest.raises(Conflict, match="en brouillon"):
        await conventions.sign_convention(
            uow,
            signatory("49007"),
            prepared.id,
            NOW,
            engagement_number="EJ",
            service_code=None,
            siret=None,
        )
    sent = await conventions.send_convention(
        uow, CAUE_49, prepared.id, NOW, estimated_days=Decimal(3)
    )
    assert sent.status is ConventionStatus.ENVOYEE and sent.totals.incl_tax == Decimal("1500.00")
    assert _of(uow, ConventionSent)[0].total_incl_tax == Decimal("1500.00")
    with pytest.raises(Forbidden, match="collectivité destinataire"):
        await conventions.sign_convention(
            uow, TEAM_49, sent.id, NOW, engagement_number="EJ-1", service_code=None, siret=None
        )
    with pytest.raises(DomainValidationError) as bad:
        await conventions.sign_convention(
            uow,
            signatory("49007"),
            sent.id,
            NOW,
            engagement_number="X" * 51,
            service_code=None,
            siret="123",
        )
    assert {e.field for e in bad.value.errors} == {"engagement_number", "siret"}
    assert "50 caractères" in bad.value.errors[0].message
    refused = await conventions.refuse_convention(
        uow, signatory("49007"), sent.id, "Budget non voté", NOW
    )
    assert refused.status is ConventionStatus.REFUSEE
    assert _of(uow, ConventionRefused)[0].reason == "Budget non voté"
    with pytest.raises(Conflict, match="refusée"):
        await conventions.sign_convention(
            uow,
            signatory("49007"),
            sent.id,
            NOW,
            engagement_number="EJ",
            service_code=None,
            siret=None,
        )
    assert _of(uow, InvoiceIssued) == [], "nothing is invoiced without a signature"


async def test_an_unsigned_convention_expires_on_the_clock() -> None:
    uow = FakeUnitOfWork()
    prepared = await prepare(uow, completion())
    signed_event = completion("49002")
    await sign_mission(uow, signed_event)
    assert await conventions.expire_due(uow, prepared.valid_until) == []
    expired = await conventions.expire_due(uow, prepared.valid_until + timedelta(seconds=1))
    assert [c.id for c in expired] == [prepared.id]
    [event] = _of(uow, ConventionExpired)
    assert (event.convention_id, event.assignment_id) == (prepared.id, prepared.assignment_id)
    assert (await conventions.read_convention(uow, TEAM_49, prepared.id)).status == "expiree"
    with pytest.raises(Conflict, match="expirée"):
        await conventions.send_convention(uow, TEAM_49, prepared.id, NOW)


async def test_signing_invoices_the_advance_and_completion_the_balance_citing_the_convention() -> (
    None
):
    uow = FakeUnitOfWork()
    event = completion("49007", days="4")
    signed = await sign_mission(uow, event, "EJ-2027-000123", "SERVICE-TECH")
    [signed_event] = _of(uow, ConventionSigned)
    assert (signed_event.engagement_number, signed_event.service_code) == (
        "EJ-2027-000123",
        "SERVICE-TECH",
    )
    balance = await bill(uow, event)
    assert balance is not None
    issued = _of(uow, InvoiceIssued)
    assert len(issued) == 2
    for invoice_event in issued:
        assert invoice_event.convention_number == signed.number
        assert invoice_event.engagement_number == "EJ-2027-000123"
        assert invoice_event.service_code == "SERVICE-TECH"
    assert sum(e.total_incl_tax for e in issued) == signed.totals.incl_tax == Decimal("2000.00")
    csv = await invoices.export_csv(uow, TEAM_49, 2027, "49")
    assert csv.count(f";{signed.number};EJ-2027-000123;SERVICE-TECH\r\n") == 2
    for e in issued:
        html = await invoices.invoice_document(uow, TEAM_49, e.document_id)
        assert f"Convention n° {signed.number}" in html
        assert "EJ-2027-000123" in html and "SERVICE-TECH" in html


async def test_an_avenant_is_a_new_version_and_the_balance_follows_it() -> None:
    uow = FakeUnitOfWork()
    event = completion("49007", days="2")
    signed = await sign_mission(uow, event)
    with pytest.raises(Forbidden):
        await conventions.amend_convention(
            uow, signatory("49007"), signed.id, Decimal(100), "Réunion publique en plus", NOW
        )
    avenant = await conventions.amend_convention(
        uow, CAUE_49, signed.id, Decimal("250.00"), "Réunion publique en plus", NOW
    )
    assert avenant.number == f"{signed.number}-A1" and avenant.version == 1
    assert avenant.totals.excl_tax == signed.totals.excl_tax + Decimal("250.00")
    [amended] = _of(uow, ConventionAmended)
    assert (amended.amends_number, amended.price_delta_excl_tax) == (signed.number, Decimal(250))
    # The signed version stays as it was, readable.
    kept = await conventions.read_convention(uow, signatory("49007"), signed.id)
    assert kept.status is ConventionStatus.SIGNEE and kept.totals == signed.totals
    with pytest.raises(Conflict, match="version plus récente"):
        await conventions.amend_convention(uow, CAUE_49, signed.id, Decimal(1), "Encore", NOW)
    await conventions.send_convention(uow, CAUE_49, avenant.id, NOW)
    await conventions.sign_convention(
        uow,
        signatory("49007"),
        avenant.id,
        NOW,
        engagement_number="EJ-A1",
        service_code=None,
        siret="21490007800012",
    )
    balance = await bill(uow, event)
    assert balance is not None and balance.contract is not None
    assert balance.contract.convention_number == avenant.number
    issued = _of(uow, InvoiceIssued)
    assert len(issued) == 2, "an avenant adds no advance"
    assert sum(e.total_incl_tax for e in issued) == Decimal("1250.00")
    _, html = await conventions.convention_document(uow, TEAM_49, avenant.id)
    assert f"Avenant n° 1 à la convention n° {signed.number}" in html
    assert "SIRET de facturation 21490007800012" in html


async def test_a_completion_without_a_signed_convention_is_kept_and_not_invoiced() -> None:
    uow = FakeUnitOfWork()
    unsigned = completion("49007")
    await prepare(uow, unsigned)
    assert await bill(uow, unsigned) is None
    orphan = completion("49002")
    assert await bill(uow, orphan) is None
    assert _of(uow, InvoiceIssued) == []
    found = await conventions.list_unbilled(uow, TEAM_49, None, 10, 0)
    assert {(u.assignment_id, u.reason) for u in found} == {
        (unsigned.assignment_id, "Convention non signée : la mission n'est pas facturée."),
        (orphan.assignment_id, "Aucune convention pour cette mission : elle n'est pas facturée."),
    }
    with pytest.raises(Forbidden):
        await conventions.list_unbilled(uow, CAUE_49, None, 10, 0)


async def test_a_mission_within_the_cotisation_is_signed_and_never_invoiced() -> None:
    uow = FakeUnitOfWork()
    document = tariff_to_dict(tariff_for("49", 2027))
    document["mission_fees"]["caue"]["members_included"] = True
    document["mission_fees"]["spl"] = {"unit": "percent", "member": "0.03", "non_member": "0.05"}
    await tariffs.publish_tariff(uow, TEAM_49, document, NOW)
    await uow.commit()
    await adhesions.register_adhesion(uow, TEAM_49, "49007", "49", 2027, get_territories(), NOW)
    event = completion("49007")
    signed = await sign_mission(uow, event)
    assert signed.pricing.mode == "included" and signed.totals.incl_tax == 0
    assert await bill(uow, event) is None
    assert _of(uow, InvoiceIssued) == []
    # A share of the works cannot be sent before the works are estimated.
    works = completion("49002", actor="spl")
    prepared = await prepare(uow, works)
    with pytest.raises(DomainValidationError):
        await conventions.send_convention(uow, TEAM_49, prepared.id, NOW)
    sent = await conventions.send_convention(
        uow, TEAM_49, prepared.id, NOW, works_amount=Decimal("200000")
    )
    assert sent.totals.excl_tax == Decimal("10000.00")
    assert f"{percent(Decimal('0.05'))} du montant des travaux" in sent.lines[0].label
