"""A year of a département told in events, for the activity reports' tests, with the
figures a reader works out by hand.

Four demandes in ``year`` (and one the year before): Angers (157,175 inhabitants, no
adhésion) asks twice, Armaillé (314 inhabitants, member since January) twice. First
routings after 2 h, 5 h, 1 h (nobody: unmatched) and 10 h: median 2 h, 9th decile 10 h.
The CAUE is proposed twice (accepted, expired), the SATESE twice (declined, accepted).
A cotisation of 500 € and a mission of 1,225 € are invoiced; a training of 10 seats gets
three participants, one of whom cancels.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from decimal import Decimal

from shared.contracts.base import EventPayload
from shared.contracts.billing import LineRef
from shared.contracts.requests import Requester
from shared.contracts.resources import (
    Audience,
    RegistrationCancelled,
    RegistrationRecorded,
    RegistrationStatus,
    TrainingOffered,
)
from shared.contracts.vocabulary import Phase, RequesterKind, Theme
from shared.french import PARIS
from tests.support.events import (
    adhesion_registered,
    assignment_accepted,
    assignment_completed,
    assignment_declined,
    assignment_expired,
    assignment_proposed,
    mission_invoice,
    request_submitted,
    request_unmatched,
)

ANGERS = Requester(kind=RequesterKind.COMMUNE, code="49007", name="Angers", population=157175)
ARMAILLE = Requester(kind=RequesterKind.COMMUNE, code="49010", name="Armaillé", population=314)
CAUE = {"actor_id": "caue-49", "actor_name": "CAUE de Maine-et-Loire"}
SATESE = {"actor_id": "satese-49", "actor_name": "SATESE 49"}


def activity_events(year: int, departement: str = "49") -> list[EventPayload]:
    def at(month: int, day: int, hour: int = 9) -> datetime:
        return datetime(year, month, day, hour, tzinfo=PARIS)

    events: list[EventPayload] = []
    ids = [uuid.uuid4() for _ in range(5)]
    demandes = [
        (ids[0], ANGERS, [Theme.URBANISME, Theme.ENERGIE], Phase.FAISABILITE, at(3, 1)),
        (ids[1], ARMAILLE, [Theme.EAU_ASSAINISSEMENT], Phase.IDEE, at(3, 2, 10)),
        (ids[2], ARMAILLE, [Theme.EAU_ASSAINISSEMENT], Phase.TRAVAUX, at(6, 10, 10)),
        (ids[3], ANGERS, [Theme.VOIRIE_RESEAUX], Phase.CONCEPTION, at(11, 20)),
        (ids[4], ANGERS, [Theme.URBANISME], Phase.IDEE, at(5, 5) - timedelta(days=365)),
    ]
    for request_id, requester, themes, phase, submitted in demandes:
        events.append(
            request_submitted(
                request_id=request_id,
                departement=departement,
                requester=requester,
                themes=themes,
                phase=phase,
                submitted_at=submitted,
            )
        )

    def routed(index: int, actor: dict[str, str], after_hours: int) -> dict[str, object]:
        request_id, requester, *_, submitted = demandes[index]
        return {
            "assignment_id": uuid.uuid4(),
            "request_id": request_id,
            "departement": departement,
            "requester_code": requester.code,
            "proposed_at": submitted + timedelta(hours=after_hours),
        } | actor

    a1, a2, a3, a4 = (
        routed(0, CAUE, 2),
        routed(1, SATESE, 5),
        routed(1, CAUE, 30),
        routed(3, SATESE, 10),
    )
    events += [assignment_proposed(**a) for a in (a1, a2, a3, a4)]
    keep = ("assignment_id", "request_id", "departement", "actor_id", "actor_name")

    def same(a: dict[str, object]) -> dict[str, object]:
        return {k: a[k] for k in keep}

    events += [
        assignment_accepted(**same(a1), accepted_at=at(3, 2)),
        assignment_declined(**same(a2), declined_at=at(3, 3)),
        assignment_expired(**same(a3), expired_at=at(3, 12)),
        assignment_accepted(**same(a4), accepted_at=at(11, 21)),
        assignment_completed(
            **same(a1),
            requester_code=ANGERS.code,
            started_at=at(3, 2),
            completed_at=at(5, 1),
        ),
        request_unmatched(
            request_id=ids[2],
            departement=departement,
            requester_code=ARMAILLE.code,
            unmatched_at=at(6, 10, 11),
        ),
        adhesion_registered(
            departement=departement,
            year=year,
            collectivite_code=ARMAILLE.code,
            collectivite_name=ARMAILLE.name,
            population=ARMAILLE.population,
            registered_at=at(1, 10),
        ),
        mission_invoice(departement=departement, year=year, issued_at=at(5, 2)),
        _cotisation(departement, year, at(1, 15)),
    ]
    events += _training(departement, at(9, 15))
    return events


def _cotisation(departement: str, year: int, issued: datetime) -> EventPayload:
    amount = Decimal("500.00")
    line = LineRef(
        kind="cotisation",
        label=f"Cotisation {year}",
        quantity=Decimal(1),
        unit="an",
        unit_price=amount,
        amount_excl_tax=amount,
        vat_rate=Decimal(0),
        vat_amount=Decimal(0),
        amount_incl_tax=amount,
    )
    return mission_invoice(
        departement=departement,
        year=year,
        issued_at=issued,
        invoice_kind="cotisation",
        collectivite_code=ARMAILLE.code,
        collectivite_name=ARMAILLE.name,
        lines=[line],
        total_excl_tax=amount,
        total_incl_tax=amount,
        request_id=None,
        assignment_id=None,
    )


def _training(departement: str, starts: datetime) -> list[EventPayload]:
    session_id = uuid.uuid4()
    events: list[EventPayload] = [
        TrainingOffered(
            session_id=session_id,
            departement=departement,
            actor_id="caue-49",
            title="Le PLUi pour les élus",
            themes=[Theme.URBANISME],
            starts_at=starts,
            ends_at=starts + timedelta(hours=3),
            online=True,
            seats=10,
            audience=[Audience.ELUS],
            price_member=Decimal(0),
            price_non_member=Decimal("50.00"),
            offered_at=starts - timedelta(days=60),
        )
    ]
    registrations = [uuid.uuid4() for _ in range(3)]
    for registration_id in registrations:
        events.append(
            RegistrationRecorded(
                registration_id=registration_id,
                session_id=session_id,
                departement=departement,
                collectivite_code=ARMAILLE.code,
                participants=1,
                status=RegistrationStatus.REGISTERED,
                recorded_at=starts - timedelta(days=30),
            )
        )
    events.append(
        RegistrationCancelled(
            registration_id=registrations[0],
            session_id=session_id,
            departement=departement,
            collectivite_code=ARMAILLE.code,
            participants=1,
            previous_status=RegistrationStatus.REGISTERED,
            cancelled_at=starts - timedelta(days=3),
        )
    )
    return events
