"""Use cases of the routed demande: route a new demande to a chain of actors, propose
the next ones after a refusal, follow a withdrawal, list what nobody covers."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import datetime

from services.matching.domain.lifecycle import OPEN_STATUSES, Assignment, AssignmentStatus
from services.matching.domain.matcher import propose
from services.matching.domain.membership import is_member, membership_codes
from services.matching.domain.model import Actor, ActorState, Need, Proposal, Requester
from services.matching.domain.routing import (
    LIVE_STATUSES,
    Policy,
    RoutedDemande,
    needs_of,
    next_round,
    requester_of,
)
from services.matching.domain.unmatched import explain
from services.matching.service_layer.assignment_events import cancel, criteria_ref, need_refs
from services.matching.service_layer.ports import UnitOfWork
from services.matching.service_layer.scopes import scope_departement
from shared.auth.tokens import Principal, Role
from shared.contracts.matching import (
    AssignmentProposed,
    CandidateRef,
    RequestUnmatched,
)
from shared.contracts.requests import RequestSubmitted, RequestSubmittedV2, RequestWithdrawn
from shared.errors import Forbidden
from shared.messaging.envelope import Envelope
from shared.observability.metrics import MATCHING_LATENCY, MATCHING_OUTCOMES
from shared.refdata import Territories

WITHDRAWN_REASON = "Demande retirée par la collectivité."


async def route_demande(
    uow: UnitOfWork,
    # v1 events may remain on the topic from before ADR 0020; routing reads no contact.
    event: RequestSubmitted | RequestSubmittedV2,
    envelope: Envelope,
    policy: Policy,
    territories: Territories,
    now: datetime,
) -> Proposal | None:
    """Propose a chain of actors for a new demande; None if it was routed before."""
    needs = needs_of(event.themes, event.phase)
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
        submitted_at=event.submitted_at,
    )
    if not await uow.demandes.add(demande):
        return None
    proposal = await _propose(uow, demande, needs, frozenset(), 1, policy, territories, now)
    await _settle(uow, demande, needs, proposal, now, frozenset(), policy, territories)
    outcome = "proposed" if proposal.links else "unmatched"
    MATCHING_OUTCOMES.labels(event.departement, outcome).inc()
    MATCHING_LATENCY.labels(event.departement).observe(
        max(0.0, (now - event.submitted_at).total_seconds())
    )
    return proposal


async def propose_next(
    uow: UnitOfWork, assignment: Assignment, policy: Policy, territories: Territories, now: datetime
) -> None:
    """After a decline or an expiry: the next candidates for the same needs."""
    demande = await uow.demandes.get(assignment.request_id, lock=True)
    if demande is None or demande.status == "withdrawn":
        return
    excluded, round_ = next_round(await uow.assignments.of_request(demande.request_id), assignment)
    proposal = await _propose(
        uow, demande, assignment.needs, excluded, round_, policy, territories, now
    )
    await _settle(uow, demande, assignment.needs, proposal, now, excluded, policy, territories)


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
    actors, states, requester = await _offer(uow, demande, policy, territories)
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
        await uow.assignments.add(assignment)
        await uow.outbox.add(
            AssignmentProposed(
                assignment_id=assignment.id,
                request_id=demande.request_id,
                departement=demande.departement,
                actor_id=actor.id,
                actor_name=actor.name,
                actor_kind=actor.kind.value,
                requester_code=demande.requester_code,
                needs=need_refs(assignment.needs),
                lead=assignment.lead,
                round=round_,
                criteria=criteria_ref(assignment.criteria),
                reasons=assignment.reasons,
                uncovered_needs=need_refs(proposal.uncovered),
                respond_by=assignment.respond_by,
                proposed_at=now,
            ),
            departement=demande.departement,
            correlation_id=demande.correlation_id,
        )
    return proposal


async def _offer(
    uow: UnitOfWork, demande: RoutedDemande, policy: Policy, territories: Territories
) -> tuple[list[Actor], dict[str, ActorState], Requester]:
    """The département's actors, their states, and the requester as matching judges it."""
    actors = await uow.actors.of_departement(demande.departement, lock=True)
    states = await uow.actors.states([a.id for a in actors], demande.requester_code)
    requester = requester_of(demande, territories, is_member=False)
    codes = membership_codes(
        requester.kind,
        requester.code,
        requester.epci_codes,
        demande.departement in policy.epci_adhesion_covers_communes,
    )
    held = await uow.memberships.of(demande.departement, codes)
    member = is_member(held, demande.departement, demande.submitted_at)
    return actors, states, replace(requester, is_member=member)


async def _settle(
    uow: UnitOfWork,
    demande: RoutedDemande,
    needs: tuple[Need, ...],
    proposal: Proposal,
    now: datetime,
    excluded: frozenset[str],
    policy: Policy,
    territories: Territories,
) -> None:
    """Record what nobody covers; hand the demande to the team when nobody is left."""
    uncovered = tuple(dict.fromkeys((*demande.uncovered, *proposal.uncovered)))
    if proposal.links:
        demande = replace(demande, uncovered=uncovered, summary=proposal.summary, updated_at=now)
        await uow.demandes.save(demande)
        return
    others = [
        a for a in await uow.assignments.of_request(demande.request_id) if a.status in LIVE_STATUSES
    ]
    if others:
        demande = replace(
            demande,
            uncovered=tuple(dict.fromkeys((*uncovered, *needs))),
            summary=proposal.summary,
            updated_at=now,
        )
        await uow.demandes.save(demande)
        return
    actors, states, requester = await _offer(uow, demande, policy, territories)
    why = explain(needs, requester, actors, states, excluded)
    demande = replace(
        demande,
        uncovered=tuple(dict.fromkeys((*uncovered, *needs))),
        summary=proposal.summary,
        status="unmatched",
        unmatched_reason=why.reason,
        updated_at=now,
    )
    await uow.demandes.save(demande)
    await uow.outbox.add(
        RequestUnmatched(
            request_id=demande.request_id,
            departement=demande.departement,
            requester_code=demande.requester_code,
            uncovered_needs=need_refs(demande.uncovered),
            reasons=[f"{e.actor_id} : {e.reason}" for e in proposal.exclusions],
            summary_text=proposal.summary,
            unmatched_at=now,
            reason=why.reason,
            candidates=[
                CandidateRef(
                    actor_id=actor.id,
                    actor_name=actor.name,
                    actor_kind=actor.kind.value,
                    needs=need_refs(served),
                )
                for actor, served in why.candidates
            ],
        ),
        departement=demande.departement,
        correlation_id=demande.correlation_id,
    )


async def follow_withdrawal(
    uow: UnitOfWork, event: RequestWithdrawn, envelope: Envelope, now: datetime
) -> int:
    """Cancel the open assignments of a withdrawn demande; their capacity comes back."""
    demande = await uow.demandes.get(event.request_id, lock=True)
    if demande is None or demande.status == "withdrawn":
        return 0
    await uow.demandes.save(replace(demande, status="withdrawn", updated_at=now))
    cancelled = 0
    for assignment in await uow.assignments.of_request(event.request_id):
        if assignment.status not in OPEN_STATUSES:
            continue
        await cancel(uow, assignment, WITHDRAWN_REASON, envelope, now)
        cancelled += 1
    return cancelled


async def list_unmatched(
    uow: UnitOfWork, principal: Principal, departement: str | None, limit: int, offset: int
) -> list[RoutedDemande]:
    """The demandes nobody covers, for the département's team."""
    if principal.role not in (Role.DEPARTEMENT, Role.ADMIN):
        raise Forbidden("Réservé à l'équipe du département.")
    return await uow.demandes.unmatched(scope_departement(principal, departement), limit, offset)
