"""Use case of the membership offer: a demande left unmatched because only members-only
actors fit it gets, from billing, what joining would cost that collectivité this year."""

from __future__ import annotations

from datetime import datetime

from services.billing.domain.invoice import totals
from services.billing.domain.pricing import PricingError, actor_label, cotisation_lines
from services.billing.service_layer.ports import UnitOfWork
from services.billing.service_layer.tariffs import resolve_tariff
from shared.contracts.billing import MembershipOffered, MissionRateRef
from shared.contracts.matching import RequestUnmatched
from shared.contracts.vocabulary import RequesterKind
from shared.french import PARIS
from shared.messaging.envelope import Envelope
from shared.observability.logging import get_logger
from shared.refdata import Commune, Territories

log = get_logger(__name__)

MEMBERSHIP_REQUIRED = "adhesion_requise"


async def offer_membership(
    uow: UnitOfWork,
    event: RequestUnmatched,
    envelope: Envelope,
    territories: Territories,
    now: datetime,
) -> MembershipOffered | None:
    """The offer for an ``adhesion_requise`` demande; None for other reasons, or when the
    tariff admits no adhésion of this kind of collectivité."""
    if event.reason != MEMBERSHIP_REQUIRED:
        return None
    found = territories.requester(event.requester_code)
    if found is None:
        return None
    kind = RequesterKind.COMMUNE if isinstance(found, Commune) else RequesterKind.EPCI
    year = event.unmatched_at.astimezone(PARIS).year
    version, tariff = await resolve_tariff(uow, event.departement, year, now)
    try:
        lines = cotisation_lines(tariff, kind.value, found.population, year)
    except PricingError as exc:
        log.info("no membership offer", departement=event.departement, reason=str(exc))
        return None
    due = totals(lines)
    kinds = dict.fromkeys(c.actor_kind for c in event.candidates)
    offer = MembershipOffered(
        request_id=event.request_id,
        departement=event.departement,
        year=year,
        collectivite_code=event.requester_code,
        collectivite_kind=kind,
        collectivite_name=found.nom,
        population=found.population,
        tariff_label=tariff.label,
        tariff_version=version,
        cotisation_excl_tax=due.excl_tax,
        cotisation_incl_tax=due.incl_tax,
        mission_rates=[
            MissionRateRef(
                actor_kind=actor_kind,
                actor_label=actor_label(actor_kind),
                unit=tariff.mission_fee(actor_kind).unit,
                member=tariff.mission_fee(actor_kind).member,
                non_member=tariff.mission_fee(actor_kind).non_member,
            )
            for actor_kind in kinds
        ],
        actor_names=[c.actor_name for c in event.candidates],
        offered_at=now,
    )
    await uow.outbox.add(offer, departement=event.departement, caused_by=envelope)
    return offer
