"""Play the scenario against running services, so that they see the same sequence on
every run of a seed: within a département one demande at a time, from its filing to the
last answer of its actors; the départements (each with actors of its own) side by side."""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from rich.console import Console
from rich.progress import Progress, TaskID

from shared.contracts.topics import (
    MATCHING_ASSIGNMENT,
    NOTIFICATIONS_DELIVERY,
    REQUESTS_REQUEST,
    departement_commands,
    departement_events,
)
from shared.french import euros
from shared.messaging.acls import ADMIN
from shared.messaging.broker import client_options
from shared.messaging.envelope import Envelope
from shared.refdata import get_territories
from shared.settings import AuthSettings, KafkaSettings
from stack.scenario.api import actor_headers, assignments, team_headers, token
from stack.scenario.conventions import settle_conventions
from stack.scenario.members import MEMBER_SHARE, wait_for_members
from stack.scenario.missions import deliver_milestones
from stack.scenario.outcome import Mission, Outcome, Played
from stack.scenario.phases import open_next_phases
from stack.scenario.plan import DEPARTEMENTS, Answer, Demande, answer, days_spent, plan
from stack.scenario.preparation import (
    cotisation_run,
    enrol_members,
    load_catalogues,
    register_contacts,
)
from stack.scenario.summary import RUN_STATUS, invoiced, wait_for_notifications

ANSWER_LABELS = {
    Answer.ACCEPT: "acceptée",
    Answer.DECLINE: "déclinée",
    Answer.LET_EXPIRE: "laissée expirer",
}
# Beyond its deadline, how long a proposal left unanswered may wait for the expiry sweep.
EXPIRY_GRACE_SECONDS = 60.0


class AlreadyPlayed(RuntimeError):
    """The stack knows the demandes of this seed already: they are not played twice."""


async def play(
    urls: Mapping[str, str],
    kafka: KafkaSettings,
    *,
    demandes: int,
    seed: int,
    console: Console,
    departements: Sequence[str] = DEPARTEMENTS,
    billing_env: Mapping[str, str] | None = None,
) -> Played:
    """Play the scenario against the running services (``urls`` by service name).

    ``billing_env`` is given to the billing service's own command that enrols the
    members (its database address, when it is not the one of this environment)."""
    started = time.perf_counter()
    departements = tuple(departements)
    this_year = datetime.now(UTC).year
    catalogues = await load_catalogues(urls["matching"], departements)
    console.print(
        "Catalogues d'acteurs chargés : "
        + ", ".join(f"{dep} : {n} acteurs" for dep, n in catalogues.items())
    )
    contacts = await register_contacts(urls["notifications"], departements)
    console.print(f"Adresses des acteurs enregistrées pour les notifications : {contacts}")
    years = (this_year, this_year + 1)
    enrolled = enrol_members(years, departements, env=billing_env, share=MEMBER_SHARE, seed=seed)
    console.print(f"Adhésions ({MEMBER_SHARE:.0%} des collectivités) : {enrolled}")
    known = await wait_for_members(urls["billing"], urls["matching"], departements, years, console)
    console.print(f"Adhésions connues de la mise en relation : {known}")

    async def settle(missions: list[Mission]) -> set[str]:
        leads = {m.assignment_id for m in missions if m.lead}
        tally = await settle_conventions(
            urls["billing"], missions, leads, seed, console, billing_env
        )
        return tally.released

    outcome = await run_scenario(
        urls["requests"],
        urls["matching"],
        kafka,
        demandes=demandes,
        seed=seed,
        console=console,
        departements=departements,
        settle=settle,
    )
    run = await cotisation_run(urls["billing"], this_year + 1, console, departements)
    console.print(
        f"Appel de cotisations {this_year + 1} : {run['issued']} factures, "
        f"{euros(run['amount_incl_tax'])} ({RUN_STATUS.get(run['status'], run['status'])})"
    )
    # Billing invoices completed missions from their events: let it catch up.
    completed = outcome.answers["mission terminée"]
    for _ in range(100):
        by_kind = Counter[str]()
        for (_, kind), (count, _) in (await invoiced(urls["billing"], departements)).items():
            by_kind[kind] += count
        if by_kind["mission"] >= completed:
            break
        await asyncio.sleep(0.3)
    await wait_for_notifications(urls["notifications"], departements, console)
    return Played(
        departements=departements,
        outcome=outcome,
        catalogues=catalogues,
        contacts=contacts,
        enrolled=enrolled,
        cotisation_year=this_year + 1,
        run=run,
        seconds=time.perf_counter() - started,
    )


EMAIL = re.compile(rb"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")


@dataclass
class _Play:
    """What the départements' players share."""

    seed: int
    auth: AuthSettings
    outcome: Outcome
    requests: httpx.AsyncClient
    matching: httpx.AsyncClient
    producers: Mapping[str, AIOKafkaProducer]
    progress: Progress
    task: TaskID


async def run_scenario(
    requests_url: str,
    matching_url: str,
    kafka: KafkaSettings,
    *,
    demandes: int = 300,
    seed: int = 2026,
    console: Console,
    departements: Sequence[str] = DEPARTEMENTS,
    settle: Callable[[list[Mission]], Awaitable[set[str]]] | None = None,
) -> Outcome:
    """File the demandes of the seed's plan, answer as the actors, ``settle`` the missions'
    conventions (it returns the missions no longer open), then complete the missions;
    what was seen on Kafka along the way is in the outcome."""
    planned = plan(seed, demandes, departements, get_territories(), datetime.now(UTC).date())
    outcome = Outcome()
    consumer = await _tap(kafka, departements)
    listener = asyncio.create_task(_listen(consumer, outcome))
    # The demo stands in for the départements' systems: each writes its own commands topic
    # as its own principal, the only one allowed to (ADR 0019, 0020).
    producers = {
        dep: AIOKafkaProducer(
            **client_options(kafka.principal(departement_commands(dep).writer)),
            acks="all",
            enable_idempotence=True,
        )
        for dep in departements
    }
    for producer in producers.values():
        await producer.start()
    try:
        async with (
            httpx.AsyncClient(base_url=requests_url, timeout=30) as requests,
            httpx.AsyncClient(base_url=matching_url, timeout=30) as matching,
        ):
            with Progress(console=console) as progress:
                task = progress.add_task("Demandes et réponses des acteurs", total=len(planned))
                shared = _Play(
                    seed, AuthSettings(), outcome, requests, matching, producers, progress, task
                )
                await asyncio.gather(
                    *(
                        _play_departement(shared, [d for d in planned if d.departement == dep])
                        for dep in departements
                    )
                )
                released = await settle(outcome.missions) if settle else set()
                await _complete_missions(shared, released)
                outcome.next_phases = await open_next_phases(
                    requests, shared.auth, outcome, seed, departements
                )
    finally:
        listener.cancel()
        for producer in producers.values():
            await producer.stop()
        await consumer.stop()
    return outcome


async def _play_departement(shared: _Play, demandes: list[Demande]) -> None:
    for demande in demandes:
        if await _file(shared, demande):
            await _until(
                lambda d=demande: shared.outcome.routed(d.request_id),  # type: ignore[misc]
                f"matching n'a pas traité la demande {demande.request_id}",
            )
            if demande.withdrawn:
                await _withdraw(shared, demande)
            else:
                await _actors_answer(shared, demande)
        shared.progress.advance(shared.task)


async def _file(shared: _Play, demande: Demande) -> bool:
    """File the demande (HTTP or command event) and wait for its ``submitted`` event;
    False when the API refused it."""
    outcome, request_id = shared.outcome, demande.request_id
    outcome.departement[request_id] = demande.departement
    outcome.submitted_at[request_id] = time.perf_counter()
    if demande.by_event:
        await _send_command(shared.producers[demande.departement], demande)
        outcome.channel["événement"] += 1
    else:
        own = demande.requester_code if demande.filed_by_collectivite else None
        response = await shared.requests.post(
            "/v1/requests",
            json=demande.body,
            headers={
                "Authorization": f"Bearer {token(shared.auth, demande.departement, own)}",
                "Idempotency-Key": request_id,
            },
        )
        if response.status_code == 200:
            raise AlreadyPlayed(
                f"La demande {request_id} existe déjà : cette graine a déjà été jouée sur "
                "cette pile ; choisissez-en une autre (--seed)."
            )
        if response.status_code >= 400:
            outcome.rejected[str(response.status_code)] += 1
            del outcome.submitted_at[request_id]
            return False
        outcome.channel["HTTP"] += 1
    await _until(
        lambda: "submitted" in outcome.seen.get(request_id, ()),
        f"pas d'événement « déposée » pour {request_id} (graine déjà jouée sur cette pile ?)",
    )
    return True


async def _withdraw(shared: _Play, demande: Demande) -> None:
    """The département's team withdraws it; matching cancels its proposals."""
    response = await shared.requests.post(
        f"/v1/requests/{demande.request_id}/withdraw",
        json={"reason": "Projet reporté au prochain budget."},
        headers=team_headers(shared.auth, demande.departement),
    )
    if response.status_code != 200:
        return
    shared.outcome.withdrawn.add(demande.request_id)
    await _until(
        lambda: "withdrawn" in shared.outcome.seen.get(demande.request_id, ()),
        f"pas d'événement « retirée » pour {demande.request_id}",
    )
    # Its proposals cancelled: the next demande finds the actors' load as it will be.
    while await _open_proposals(shared, demande.departement):
        await asyncio.sleep(0.1)


async def _open_proposals(shared: _Play, departement: str) -> list[Any]:
    """The département's proposals awaiting an answer: the current demande's alone, as
    every earlier one was answered."""
    return await assignments(shared.matching, shared.auth, "proposed", [departement])


async def _actors_answer(shared: _Play, demande: Demande) -> None:
    """Until no proposal of the demande is left open: the actors answer each as the plan
    says; one left to expire is waited for only when it is the last open, so that its
    replacement is chosen among actors whose load no timing decides."""
    first: str | None = None
    while proposals := await _open_proposals(shared, demande.departement):
        round_one = sorted(p["actor_id"] for p in proposals if p["round"] == 1)
        if first is None and round_one:
            first = round_one[0]
        decided = [
            (p, answer(shared.seed, demande, p["actor_id"], p["round"], p["actor_id"] == first))
            for p in sorted(proposals, key=lambda p: (p["round"], p["actor_id"]))
        ]
        answered = [(p, a) for p, a in decided if a is not Answer.LET_EXPIRE]
        for proposal, decision in answered:
            await _post_answer(shared, demande, proposal, decision)
        if not answered:
            for proposal, _ in decided:
                await _until_expired(shared, proposal)
                shared.outcome.answers[ANSWER_LABELS[Answer.LET_EXPIRE]] += 1


async def _post_answer(
    shared: _Play, demande: Demande, proposal: dict[str, Any], decision: Answer
) -> None:
    path, body = (
        ("decline", {"reason": "Plan de charge complet ce trimestre."})
        if decision is Answer.DECLINE
        else ("accept", {})
    )
    response = await shared.matching.post(
        f"/v1/assignments/{proposal['id']}/{path}",
        json=body,
        headers=actor_headers(shared.auth, proposal["departement"], proposal["actor_id"]),
    )
    response.raise_for_status()
    shared.outcome.answers[ANSWER_LABELS[decision]] += 1
    if decision is Answer.ACCEPT:
        shared.outcome.missions.append(
            Mission(demande, proposal["id"], proposal["actor_id"], bool(proposal.get("lead")))
        )


async def _until_expired(shared: _Play, proposal: dict[str, Any]) -> None:
    respond_by = datetime.fromisoformat(proposal["respond_by"])
    headers = team_headers(shared.auth, proposal["departement"])

    async def expired() -> bool:
        response = await shared.matching.get(f"/v1/assignments/{proposal['id']}", headers=headers)
        response.raise_for_status()
        return bool(response.json()["status"] != "proposed")

    deadline = (
        time.monotonic()
        + max(0.0, (respond_by - datetime.now(UTC)).total_seconds())
        + EXPIRY_GRACE_SECONDS
    )
    while not await expired():
        if time.monotonic() > deadline:
            raise TimeoutError(f"la proposition {proposal['id']} n'a jamais expiré")
        await asyncio.sleep(0.2)


async def _complete_missions(shared: _Play, released: set[str]) -> None:
    """Most missions end, with the days the plan gives; the others still run, and those
    whose convention expired were cancelled."""
    for mission in shared.outcome.missions:
        days = days_spent(shared.seed, mission.demande, mission.actor_id)
        if days is None or mission.assignment_id in released:
            continue
        await deliver_milestones(
            shared.matching,
            shared.auth,
            departement=mission.demande.departement,
            actor_id=mission.actor_id,
            assignment_id=mission.assignment_id,
            title=str(mission.demande.body["title"]),
            course=shared.outcome.course,
        )
        response = await shared.matching.post(
            f"/v1/assignments/{mission.assignment_id}/complete",
            json={"days_spent": str(days), "report": "Mission conduite à son terme."},
            headers=actor_headers(shared.auth, mission.demande.departement, mission.actor_id),
        )
        response.raise_for_status()
        shared.outcome.answers["mission terminée"] += 1


async def _send_command(producer: AIOKafkaProducer, demande: Demande) -> None:
    dep = demande.departement
    envelope = Envelope(
        type="requests.command.submit-request.v1", source=f"sig-departement-{dep}", departement=dep
    )
    await producer.send_and_wait(
        # The département's own commands topic: its département is the topic's (ADR 0020).
        departement_commands(dep).name,
        value=json.dumps(demande.body | {"request_id": demande.request_id}).encode(),
        key=dep.encode(),
        headers=[(k, v.encode()) for k, v in envelope.to_headers().items()],
    )


async def _tap(kafka: KafkaSettings, departements: Sequence[str]) -> AIOKafkaConsumer:
    consumer = AIOKafkaConsumer(**client_options(kafka.principal(ADMIN)), enable_auto_commit=False)
    await consumer.start()
    # The départements' integration topics too: what their own systems receive.
    integration = [departement_events(dep) for dep in departements]
    partitions = [
        TopicPartition(topic.name, p)
        for topic in (REQUESTS_REQUEST, MATCHING_ASSIGNMENT, NOTIFICATIONS_DELIVERY, *integration)
        for p in range(topic.partitions)
    ]
    consumer.assign(partitions)
    await consumer.seek_to_end(*partitions)
    for tp in partitions:
        await consumer.position(tp)
    return consumer


async def _listen(consumer: AIOKafkaConsumer, outcome: Outcome) -> None:
    async for record in consumer:
        headers = {k: v.decode() for k, v in record.headers}
        # None of these topics may carry a person's address (ADR 0020).
        outcome.emails_on_shared_topics += len(EMAIL.findall(record.value))
        if record.topic.startswith("dept."):
            outcome.integration[record.topic] += 1
            continue
        body = json.loads(record.value)
        if record.topic == NOTIFICATIONS_DELIVERY.name:
            # The acknowledgement of a demande, handed to the mail server.
            request_id = outcome.submitted_event.get(str(body.get("source_event_id")))
            if (
                request_id is not None
                and headers.get("ce_type") == "notifications.delivery.sent.v1"
                and body.get("kind") == "demande_recue"
            ):
                elapsed = (time.perf_counter() - outcome.submitted_at[request_id]) * 1000
                outcome.email_latencies_ms.append(elapsed)
            continue
        request_id = body.get("request_id")
        if request_id not in outcome.submitted_at:
            continue
        kind = headers.get("ce_type", "?.?.?").split(".")[2]
        seen = outcome.seen.setdefault(request_id, set())
        elapsed = (time.perf_counter() - outcome.submitted_at[request_id]) * 1000
        if record.topic == MATCHING_ASSIGNMENT.name:
            if not seen & {"proposed", "unmatched"} and kind in ("proposed", "unmatched"):
                outcome.proposal_latencies_ms.append(elapsed)
        elif kind == "submitted" and kind not in seen:
            outcome.latencies_ms.append(elapsed)
            outcome.submitted_event[headers.get("ce_id", "")] = request_id
        seen.add(kind)


async def _until(done: Callable[[], bool], failure: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not done():
        if time.monotonic() > deadline:
            raise TimeoutError(failure)
        await asyncio.sleep(0.02)
