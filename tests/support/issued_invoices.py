"""Invoices issued through billing's own use cases on a real database, as the service
issues them (no HTTP, no broker): for a département, a commune and an EPCI join, their
buyer accounts are registered, the cotisation run invoices them, a mission's convention is
prepared, sent and signed with an engagement number, a service code and the SIRET (its
advance is invoiced at the signature), and the commune's cotisation is cancelled by a
credit note."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from services.billing.domain.invoice import Invoice, InvoiceFilter
from services.billing.service_layer import adhesions, buyers, conventions, cotisation_run, invoices
from services.billing.service_layer.ports import UnitOfWork
from shared.auth.tokens import Principal, Role
from shared.contracts.vocabulary import RequesterKind
from shared.refdata import get_territories
from stack.scenario.facturx import stand_in_siret
from tests.support import events
from tests.support.conventions import sent_convention

YEAR = 2027


@dataclass(frozen=True)
class Issued:
    """What one département issued, by kind, in number order within each series."""

    departement: str
    commune_cotisation: Invoice
    epci_cotisation: Invoice
    mission: Invoice
    credit_note: Invoice

    @property
    def all(self) -> list[Invoice]:
        return [self.commune_cotisation, self.epci_cotisation, self.mission, self.credit_note]


def members_of(departement: str) -> tuple[str, str]:
    """A commune and an EPCI of the département (its own, not one it shares)."""
    territories = get_territories()
    commune = territories.communes_of(departement)[0].code_insee
    epci = next(
        e.siren
        for e in territories.epcis_of(departement)
        if territories.home_departement(e.siren) == departement
    )
    return commune, epci


async def issue_for(unit_of_work: Callable[[], UnitOfWork], departement: str) -> Issued:
    territories = get_territories()
    team = Principal(Role.DEPARTEMENT, f"agent-{departement}", departement)
    commune, epci = members_of(departement)
    now = datetime.now(UTC)
    for code in (commune, epci):
        async with unit_of_work() as uow:
            await adhesions.register_adhesion(uow, team, code, departement, YEAR, territories, now)
        async with unit_of_work() as uow:
            await buyers.register_buyer(
                uow,
                team,
                departement,
                code,
                siret=stand_in_siret(code),
                service_code=None,
                service_code_required=None,
                engagement_required=None,
                territories=territories,
                now=now,
            )
    plan = await cotisation_run.open_run(unit_of_work, YEAR, [departement], now)
    await cotisation_run.run_cotisations(unit_of_work, plan, lambda: datetime.now(UTC))
    completed = events.assignment_completed(
        departement=departement,
        actor_id=f"caue{departement}",
        requester_code=commune,
        requester_kind=RequesterKind.COMMUNE,
    )
    convention_id = await sent_convention(unit_of_work, completed, datetime(YEAR, 2, 1, tzinfo=UTC))
    signatory = Principal(Role.COLLECTIVITE, "elu", departement, scope=commune)
    async with unit_of_work() as uow:
        await conventions.sign_convention(
            uow,
            signatory,
            convention_id,
            datetime.now(UTC),
            engagement_number=f"EJ-{departement}-2027-000042",
            service_code="SERV-TECH",
            siret=stand_in_siret(commune),
        )
    async with unit_of_work() as uow:
        found = await uow.invoices.search(InvoiceFilter(departement), limit=None, offset=0)
    by_kind = {(i.invoice_kind, i.collectivite.kind): i for i in found}
    cotisation = by_kind[("cotisation", RequesterKind.COMMUNE)]
    async with unit_of_work() as uow:
        credit = await invoices.cancel_invoice(
            uow, team, cotisation.id, "Population corrigée", datetime.now(UTC)
        )
    return Issued(
        departement=departement,
        commune_cotisation=cotisation,
        epci_cotisation=by_kind[("cotisation", RequesterKind.EPCI)],
        mission=by_kind[("mission", RequesterKind.COMMUNE)],
        credit_note=credit,
    )
