"""Use cases of the matching service: route a demande, answer a proposal, expire the
late ones, complete a mission, follow a withdrawal, manage the actor catalogue."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Protocol
from uuid import UUID

from services.matching.adapters.repository import MatchingRepository, RoutedDemande
from services.matching.domain.lifecycle import (
    Assignment,
    AssignmentStatus,
    InvalidTransition,
    response_deadline,
)
from services.matching.domain.matcher import propose
from services.matching.domain.model import Actor, Need, Proposal, Requester, Weights
from shared.auth.tokens import Principal, Role
from shared.contracts.matching import (
    ActorRegistered,
    ActorUpdated,
    AssignmentAccepted,
    AssignmentCancelled,
    AssignmentCompleted,
    AssignmentDeclined,
    AssignmentEvent,
    AssignmentExpired,
    AssignmentProposed,
    CriteriaRef,
    EligibilityRef,
    NeedRef,
    RequestUnmatched,
    TerritoryRef,
)
from shared.contracts.requests import RequestSubmitted, RequestWithdrawn
from shared.contracts.vocabulary import RequesterKind
from shared.errors import Conflict, Forbidden, NotFound
from shared.messaging.envelope import Envelope
from shared.messaging.outbox import OutboxWriter
from shared.observability.metrics import MATCHING_LATENCY, MATCHING_OUTCOMES
from shared.refdata import Commune, Territories


class UnitOfWork(Protocol):
    repository: MatchingRepository
    outbox: OutboxWriter

    async def commit(self) -> None: ...


@dataclass(frozen=True, slots=True)
class Policy:
    weights: Weights = field(default_factory=Weights)
    response_working_days: int = 5
    # For demonstrations and drills: a deadline in seconds instead of working days.
    response_seconds: float | None = None

    def deadline(self, now: datetime) -> datetime:
        if self.response_seconds is not None:
            return now + timedelta(seconds=self.response_seconds)
        return response_deadline(now, self.response_working_days)


def requester_of(demande: RoutedDemande, territories: Territories, is_member: bool) -> Requester:
    found = territories.requester(demande.requester_code)
    if isinstance(found, Commune):
        return Requester(
            kind=RequesterKind.COMMUNE,
            code=found.code_insee,
            departement=demande.departement,
            population=found.population,
            commune_codes=frozenset({found.code_insee}),
            epci_codes=frozenset({found.epci_siren} if found.epci_siren else ()),
            departement_codes=frozenset({found.departement_code}),
            is_member=is_member,
        )
    if found is not None:
        return Requester(
            kind=RequesterKind.EPCI,
            code=found.siren,
            departement=demande.departement,
            population=found.population,
            commune_codes=frozenset(found.commune_codes),
            epci_codes=frozenset({found.siren}),
            departement_codes=found.departement_codes,
            is_member=is_member,
        )
    # The requests service validated the code against the same reference data.
    return Requester(
        kind=demande.requester_kind,
        code=demande.requester_code,
        departement=demande.departement,
        population=demande.requester_population,
        commune_codes=frozenset(),
        epci_codes=frozenset(),
        departement_codes=frozenset({demande.departement}),
        is_member=is_member,
    )


def _need_refs(needs: tuple[Need, ...] | list[Need]) -> list[NeedRef]:
    return [NeedRef(theme=n.theme, phase=n.phase) for n in needs]


async def route_demande(
    uow: UnitOfWork,
    event: RequestSubmitted,
    envelope: Envelope,
    policy: Policy,
    territories: Territories,
    now: datetime,
) -> Proposal | None:
    """Propose a chain of actors for a new demande; None if it was routed before."""
    needs = tuple(dict.fromkeys(Need(theme, event.phase) for theme in event.themes))
    demande = RoutedDemande(
        request_id=event.request_id,
        departement=event.departement,
        requester_kind=event.requester.kind,
        requester_code=event.requester.code,
        requester_population=event.requester.population,
        needs=needs,
        status="open",
        uncovered=(),
        summary="",
        correlation_id=envelope.correlation_id,
        received_at=now,
        updated_at=now,
    )
    if not await uow.repository.add_demande(demande):
        return None
    proposal = await _propose(uow, demande, needs, frozenset(), 1, policy, territories, now)
    await _settle(uow, demande, needs, proposal, now)
    outcome = "proposed" if proposal.links else "unmatched"
    MATCHING_OUTCOMES.labels(event.departement, outcome).inc()
    MATCHING_LATENCY.labels(event.departement).observe(
        max(0.0, (now - event.submitted_at).total_seconds())
    )
    return proposal


async def _propose(
    uow: UnitOfWork,
    demande: RoutedDemande,
    needs: tuple[Need, ...],
    excluded: frozenset[str],
    round_: int,
    policy: Policy,
    territories: Territories,
    now: datetime,
) -> Proposal:
    actors = await uow.repository.actors_of(demande.departement, lock=True)
    states = await uow.repository.states([a.id for a in actors], demande.requester_code)
    requester = requester_of(demande, territories, is_member=False)
    proposal = propose(needs, requester, actors, states, policy.weights, excluded)
    by_id = {a.id: a for a in actors}
    for link in proposal.links:
        actor = by_id[link.candidate.actor.id]
        assignment = Assignment(
            id=uuid.uuid4(),
            request_id=demande.request_id,
            departement=demande.departement,
            actor_id=actor.id,
            requester_code=demande.requester_code,
            needs=link.needs,
            lead=link.lead,
            round=round_,
            status=AssignmentStatus.PROPOSED,
            criteria=link.candidate.criteria,
            reasons=link.candidate.reasons,
            proposed_at=now,
            respond_by=policy.deadline(now),
        )
        await uow.repository.add_assignment(assignment)
        c = assignment.criteria
        await uow.outbox.add(
            AssignmentProposed(
                assignment_id=assignment.id,
                request_id=demande.request_id,
                departement=demande.departement,
                actor_id=actor.id,
                actor_name=actor.name,
                actor_kind=actor.kind.value,
                requester_code=demande.requester_code,
                needs=_need_refs(assignment.needs),
                lead=assignment.lead,
                round=round_,
                criteria=CriteriaRef(
                    coverage=c.coverage,
                    expertise=c.expertise,
                    load=c.load,
                    continuity=c.continuity,
                    locality=c.locality,
                    score=c.score,
                ),
                reasons=assignment.reasons,
                uncovered_needs=_need_refs(proposal.uncovered),
                respond_by=assignment.respond_by,
                proposed_at=now,
            ),
            departement=demande.departement,
            correlation_id=demande.correlation_id,
        )
    return proposal


async def _settle(
    uow: UnitOfWork,
    demande: RoutedDemande,
    needs: tuple[Need, ...],
    proposal: Proposal,
    now: datetime,
) -> None:
    """Record what nobody covers; hand the demande to the team when nobody is left."""
    uncovered = tuple(dict.fromkeys((*demande.uncovered, *proposal.uncovered)))
    if proposal.links:
        demande = replace(demande, uncovered=uncovered, summary=proposal.summary, updated_at=now)
        await uow.repository.save_demande(demande)
        return
    others = [
        a
        for a in await uow.repository.assignments_of(demande.request_id)
        if a.status
        in (AssignmentStatus.PROPOSED, AssignmentStatus.ACCEPTED, AssignmentStatus.COMPLETED)
    ]
    demande = replace(
        demande,
        uncovered=tuple(dict.fromkeys((*uncovered, *needs))),
        summary=proposal.summary,
        status="open" if others else "unmatched",
        updated_at=now,
    )
    await uow.repository.save_demande(demande)
    if others:
        return
    await uow.outbox.add(
        RequestUnmatched(
            request_id=demande.request_id,
            departement=demande.departement,
            requester_code=demande.requester_code,
            uncovered_needs=_need_refs(demande.uncovered),
            reasons=[f"{e.actor_id} : {e.reason}" for e in proposal.exclusions],
            summary_text=proposal.summary,
            unmatched_at=now,
        ),
        departement=demande.departement,
        correlation_id=demande.correlation_id,
    )


async def _replace(
    uow: UnitOfWork, assignment: Assignment, policy: Policy, territories: Territories, now: datetime
) -> None:
    """After a decline or an expiry: the next candidates for the same needs."""
    demande = await uow.repository.demande(assignment.request_id, lock=True)
    if demande is None or demande.status == "withdrawn":
        return
    history = await uow.repository.assignments_of(assignment.request_id)
    excluded = frozenset(
        a.actor_id
        for a in history
        if a.status in (AssignmentStatus.DECLINED, AssignmentStatus.EXPIRED)
    ) | {assignment.actor_id}
    round_ = max(a.round for a in history) + 1
    proposal = await _propose(
        uow, demande, assignment.needs, excluded, round_, policy, territories, now
    )
    await _settle(uow, demande, assignment.needs, proposal, now)


def _ensure_actor_may_answer(principal: Principal, assignment: Assignment) -> None:
    if principal.role is Role.ADMIN:
        return
    if principal.departement != assignment.departement:
        raise Forbidden("Cette mise en relation relève d'un autre département.")
    if principal.role is Role.ACTOR and principal.scope != assignment.actor_id:
        raise Forbidden("Cette mise en relation est adressée à un autre acteur.")
    if principal.role not in (Role.ACTOR, Role.DEPARTEMENT):
        raise Forbidden("Seul l'acteur sollicité ou l'équipe du département peut répondre.")


async def _locked_assignment(uow: UnitOfWork, assignment_id: UUID) -> Assignment:
    assignment = await uow.repository.assignment(assignment_id, lock=True)
    if assignment is None:
        raise NotFound("Mise en relation introuvable.")
    return assignment


async def _actor_name(uow: UnitOfWork, actor_id: str) -> tuple[str, str]:
    actor = await uow.repository.actor(actor_id)
    return (actor.name, actor.kind.value) if actor else (actor_id, "autre")


async def _correlation(uow: UnitOfWork, request_id: UUID) -> str | None:
    demande = await uow.repository.demande(request_id)
    return demande.correlation_id if demande else None


async def _record(
    uow: UnitOfWork,
    assignment: Assignment,
    event: type[AssignmentEvent],
    *,
    caused_by: Envelope | None = None,
    **fields: object,
) -> None:
    """Write an assignment event with the fields every such event carries."""
    name, _ = await _actor_name(uow, assignment.actor_id)
    payload = event.model_validate(
        {
            "assignment_id": assignment.id,
            "request_id": assignment.request_id,
            "departement": assignment.departement,
            "actor_id": assignment.actor_id,
            "actor_name": name,
            **fields,
        }
    )
    correlation = None if caused_by else await _correlation(uow, assignment.request_id)
    await uow.outbox.add(
        payload, departement=assignment.departement, caused_by=caused_by, correlation_id=correlation
    )


async def accept(
    uow: UnitOfWork, principal: Principal, assignment_id: UUID, now: datetime
) -> Assignment:
    assignment = await _locked_assignment(uow, assignment_id)
    _ensure_actor_may_answer(principal, assignment)
    try:
        assignment.accept(now)
    except InvalidTransition as exc:
        raise Conflict(str(exc)) from exc
    await uow.repository.save_assignment(assignment)
    await _record(uow, assignment, AssignmentAccepted, accepted_at=now)
    await uow.commit()
    return assignment


async def decline(
    uow: UnitOfWork,
    principal: Principal,
    assignment_id: UUID,
    reason: str | None,
    policy: Policy,
    territories: Territories,
    now: datetime,
) -> Assignment:
    assignment = await _locked_assignment(uow, assignment_id)
    _ensure_actor_may_answer(principal, assignment)
    try:
        assignment.decline(reason, now)
    except InvalidTransition as exc:
        raise Conflict(str(exc)) from exc
    await uow.repository.save_assignment(assignment)
    await _record(uow, assignment, AssignmentDeclined, reason=reason, declined_at=now)
    await _replace(uow, assignment, policy, territories, now)
    await uow.commit()
    return assignment


async def expire_due(
    uow: UnitOfWork, policy: Policy, territories: Territories, now: datetime, limit: int = 50
) -> int:
    """Expire the proposals past their deadline and propose the next candidates."""
    due = await uow.repository.due_for_expiry(now, limit)
    for assignment in due:
        assignment.expire(now)
        await uow.repository.save_assignment(assignment)
        await _record(
            uow, assignment, AssignmentExpired, respond_by=assignment.respond_by, expired_at=now
        )
        await _replace(uow, assignment, policy, territories, now)
    await uow.commit()
    return len(due)


async def complete(
    uow: UnitOfWork,
    principal: Principal,
    assignment_id: UUID,
    days_spent: Decimal,
    report: str | None,
    now: datetime,
) -> Assignment:
    assignment = await _locked_assignment(uow, assignment_id)
    _ensure_actor_may_answer(principal, assignment)
    started_at = assignment.responded_at
    try:
        assignment.complete(days_spent, report, now)
    except InvalidTransition as exc:
        raise Conflict(str(exc)) from exc
    await uow.repository.save_assignment(assignment)
    demande = await uow.repository.demande(assignment.request_id)
    name, kind = await _actor_name(uow, assignment.actor_id)
    await uow.outbox.add(
        AssignmentCompleted(
            assignment_id=assignment.id,
            request_id=assignment.request_id,
            departement=assignment.departement,
            actor_id=assignment.actor_id,
            actor_name=name,
            actor_kind=kind,
            requester_code=assignment.requester_code,
            requester_kind=demande.requester_kind if demande else RequesterKind.COMMUNE,
            needs=_need_refs(assignment.needs),
            days_spent=days_spent,
            report=report,
            started_at=started_at or assignment.proposed_at,
            completed_at=now,
        ),
        departement=assignment.departement,
        correlation_id=demande.correlation_id if demande else None,
    )
    await uow.commit()
    return assignment


async def follow_withdrawal(
    uow: UnitOfWork, event: RequestWithdrawn, envelope: Envelope, now: datetime
) -> int:
    """Cancel the open assignments of a withdrawn demande; their capacity comes back."""
    demande = await uow.repository.demande(event.request_id, lock=True)
    if demande is None or demande.status == "withdrawn":
        return 0
    await uow.repository.save_demande(replace(demande, status="withdrawn", updated_at=now))
    cancelled = 0
    for assignment in await uow.repository.assignments_of(event.request_id):
        if assignment.status not in (AssignmentStatus.PROPOSED, AssignmentStatus.ACCEPTED):
            continue
        was_accepted = assignment.cancel("Demande retirée par la collectivité.", now)
        await uow.repository.save_assignment(assignment)
        await _record(
            uow,
            assignment,
            AssignmentCancelled,
            caused_by=envelope,
            was_accepted=was_accepted,
            reason="Demande retirée par la collectivité.",
            cancelled_at=now,
        )
        cancelled += 1
    return cancelled


def _actor_event_fields(actor: Actor, version: int, now: datetime) -> dict[str, object]:
    e = actor.eligibility
    return {
        "actor_id": actor.id,
        "departement": actor.departement,
        "name": actor.name,
        "kind": actor.kind.value,
        "themes": {t: int(level) for t, level in actor.themes.items()},
        "phases": sorted(actor.phases),
        "territory": TerritoryRef(
            departements=sorted(actor.territory.departements),
            epcis=sorted(actor.territory.epcis),
            communes=sorted(actor.territory.communes),
        ),
        "capacity": actor.capacity,
        "eligibility": EligibilityRef(
            min_population=e.min_population,
            max_population=e.max_population,
            members_only=e.members_only,
            requester_kinds=sorted(e.requester_kinds),
        ),
        "active": actor.active,
        "version": version,
        "changed_at": now,
    }


def ensure_may_manage(principal: Principal, departement: str) -> None:
    if principal.role is Role.ADMIN:
        return
    if principal.role is not Role.DEPARTEMENT or principal.departement != departement:
        raise Forbidden("Seule l'équipe du département gère son catalogue d'acteurs.")


async def save_actor(uow: UnitOfWork, principal: Principal, actor: Actor, now: datetime) -> int:
    """Register or update an actor of the catalogue; returns its version."""
    ensure_may_manage(principal, actor.departement)
    existing = await uow.repository.actor(actor.id)
    if existing is not None and existing.departement != actor.departement:
        raise Conflict("Cet identifiant d'acteur appartient à un autre département.")
    if existing == actor:
        return -1
    version, created = await uow.repository.upsert_actor(actor, now)
    event_type = ActorRegistered if created else ActorUpdated
    await uow.outbox.add(
        event_type.model_validate(_actor_event_fields(actor, version, now)),
        departement=actor.departement,
    )
    await uow.commit()
    return version
