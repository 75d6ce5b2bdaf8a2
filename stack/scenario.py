"""The demo scenario: real communes and EPCI of several départements ask for help.

Deterministic for a given seed. The actor catalogues are loaded and the actors'
addresses registered; every commune and EPCI joins the offer. Demandes arrive over
HTTP (from the collectivité itself or from the département's team) and as command
events from a département system; a few are withdrawn in each département. Actors
accept, decline or let proposals expire, then complete most missions; billing
invoices them, and the annual cotisation run invoices every member. Every event is
read back from Kafka to measure the end-to-end latency, down to the acknowledgement
email handed to the mail server.

:func:`play` runs it all against running services; :func:`report` prints the summary.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from importlib import resources
from typing import Any

import httpx
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from services.billing.adapters.documents import euros
from shared.auth.tokens import Role, mint
from shared.contracts.topics import (
    MATCHING_ASSIGNMENT,
    NOTIFICATIONS_DELIVERY,
    REQUESTS_COMMAND,
    REQUESTS_REQUEST,
)
from shared.contracts.vocabulary import PHASE_LABELS, THEME_LABELS, Phase, Theme
from shared.messaging.envelope import Envelope
from shared.refdata import Territories, get_territories
from shared.settings import AuthSettings, KafkaSettings

DEPARTEMENTS = ("49", "35", "24")

PROJECTS: dict[Theme, list[str]] = {
    Theme.URBANISME: [
        "Révision du PLU",
        "Élaboration d'une carte communale",
        "Aménagement du centre-bourg",
    ],
    Theme.EAU_ASSAINISSEMENT: [
        "Mise aux normes de la station d'épuration",
        "Schéma directeur d'eau pluviale",
    ],
    Theme.VOIRIE_RESEAUX: [
        "Réfection de la voirie communale",
        "Sécurisation de la traversée du bourg",
    ],
    Theme.BATIMENTS_PUBLICS: [
        "Rénovation de l'école",
        "Réhabilitation de la mairie",
        "Extension de la salle des fêtes",
    ],
    Theme.ENERGIE: [
        "Rénovation énergétique des bâtiments communaux",
        "Réseau de chaleur bois",
        "Éclairage public LED",
    ],
    Theme.ENVIRONNEMENT_BIODIVERSITE: [
        "Restauration d'une zone humide",
        "Atlas de la biodiversité communale",
    ],
    Theme.ARCHITECTURE_PAYSAGE: [
        "Requalification de la place de l'église",
        "Aménagement paysager des bords de Loire",
    ],
    Theme.ECONOMIE_COMMERCE: ["Reprise du dernier commerce", "Création d'un tiers-lieu"],
    Theme.MOBILITE: ["Plan de mobilité simplifié", "Liaison cyclable vers le collège"],
    Theme.HABITAT: ["Opération programmée d'amélioration de l'habitat", "Lotissement communal"],
    Theme.JURIDIQUE_MARCHES_PUBLICS: [
        "Rédaction d'un marché de maîtrise d'œuvre",
        "Délégation de service public",
    ],
    Theme.FINANCES_LOCALES: ["Prospective financière du mandat", "Montage du plan de financement"],
    Theme.NUMERIQUE: ["Dématérialisation des actes", "Site internet de la commune"],
    Theme.FORMATION_ELUS: [
        "Formation des nouveaux élus à l'urbanisme",
        "Formation aux marchés publics",
    ],
}
FIRST_NAMES = [
    "Marie",
    "Jean",
    "Nathalie",
    "Philippe",
    "Sophie",
    "Michel",
    "Isabelle",
    "Alain",
    "Claire",
    "Luc",
]
LAST_NAMES = [
    "Martin",
    "Bernard",
    "Dubois",
    "Thomas",
    "Robert",
    "Richard",
    "Petit",
    "Durand",
    "Leroy",
    "Moreau",
]
ROLES = ["Maire", "Adjoint à l'urbanisme", "Secrétaire de mairie", "Directeur général des services"]


STATUS_LABELS = {
    "submitted": "déposée",
    "proposed": "proposée",
    "in_progress": "en cours",
    "completed": "terminée",
    "unmatched": "sans acteur",
    "withdrawn": "retirée",
}
KIND_LABELS = {"cotisation": "cotisations", "mission": "missions", "avoir": "avoirs"}
DELIVERY_LABELS = {
    "sent": "envoyées",
    "pending": "en attente d'envoi",
    "awaiting_recipient": "en attente du destinataire",
    "held": "réservées au résumé",
    "digested": "regroupées dans un résumé",
    "skipped": "sans objet",
    "dead_lettered": "en échec définitif",
}
CHANNEL_LABELS = {"email": "courriel", "webhook": "webhook"}
RUN_STATUS = {
    "running": "en cours",
    "finished": "terminé",
    "failed": "en échec",
    "interrupted": "interrompu",
}


@dataclass
class Outcome:
    submitted_at: dict[str, float] = field(default_factory=dict)
    departement: dict[str, str] = field(default_factory=dict)
    channel: Counter[str] = field(default_factory=Counter)
    rejected: Counter[str] = field(default_factory=Counter)
    withdrawn: set[str] = field(default_factory=set)
    latencies_ms: list[float] = field(default_factory=list)
    seen: dict[str, set[str]] = field(default_factory=dict)
    answers: Counter[str] = field(default_factory=Counter)
    proposal_latencies_ms: list[float] = field(default_factory=list)
    # ce_id of each demande's "submitted" event, to follow the emails it causes.
    submitted_event: dict[str, str] = field(default_factory=dict)
    email_latencies_ms: list[float] = field(default_factory=list)


@dataclass
class Played:
    """What :func:`play` did: the scenario's outcome and the stack's own figures."""

    departements: tuple[str, ...]
    outcome: Outcome
    catalogues: dict[str, int]
    contacts: int
    enrolled: str
    cotisation_year: int
    run: dict[str, Any]
    seconds: float = 0.0


def _draft(rng: random.Random, code: str, population: int, nom: str) -> dict[str, Any]:
    themes = rng.sample(list(PROJECTS), k=rng.choice((1, 1, 1, 2, 2, 3)))
    title = rng.choice(PROJECTS[themes[0]])
    first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
    start = datetime.now(UTC).date() + timedelta(days=rng.randint(20, 240))
    budget = Decimal(rng.randint(5, 400) * max(population, 100)) / Decimal(10)
    return {
        "requester_code": code,
        "contact": {
            "name": f"{first} {last}",
            "email": f"{first}.{last}@mairie-{code}.example.fr".lower(),
            "role": rng.choice(ROLES),
        },
        "title": f"{title} — {nom}"[:200],
        "description": (
            f"{nom} ({population} habitants) sollicite un accompagnement pour : {title.lower()}. "
            "Besoin d'appui technique pour cadrer le projet, estimer son coût "
            "et choisir la procédure."
        ),
        "themes": [t.value for t in themes],
        "phase": rng.choice(list(Phase)).value,
        "estimated_budget": str(budget.quantize(Decimal("0.01"))),
        "wished_start": start.isoformat(),
        "wished_end": (start + timedelta(days=rng.randint(60, 700))).isoformat(),
    }


def _requesters(
    territories: Territories, rng: random.Random, departement: str, n: int
) -> list[tuple[str, int, str]]:
    communes = [c for c in territories.communes_of(departement) if c.population < 20_000]
    epcis = list(territories.epcis_of(departement))
    chosen: list[tuple[str, int, str]] = []
    for _ in range(n):
        if rng.random() < 0.15 and epcis:
            e = rng.choice(epcis)
            chosen.append((e.siren, e.population, e.nom))
        else:
            c = rng.choice(communes)
            chosen.append((c.code_insee, c.population, c.nom))
    return chosen


# --- the whole scenario ------------------------------------------------------------------


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
    enrolled = enrol_members((this_year, this_year + 1), departements, env=billing_env)
    console.print(f"Adhésions : {enrolled}")
    outcome = await run_scenario(
        urls["requests"],
        urls["matching"],
        kafka,
        demandes=demandes,
        seed=seed,
        console=console,
        departements=departements,
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


async def run_scenario(
    requests_url: str,
    matching_url: str,
    kafka: KafkaSettings,
    *,
    demandes: int = 300,
    seed: int = 2026,
    console: Console,
    departements: Sequence[str] = DEPARTEMENTS,
) -> Outcome:
    rng = random.Random(seed)
    territories = get_territories()
    auth = AuthSettings()
    outcome = Outcome()
    consumer = await _tap(kafka)
    listener = asyncio.create_task(_listen(consumer, outcome))
    producer = AIOKafkaProducer(
        bootstrap_servers=kafka.bootstrap_servers, acks="all", enable_idempotence=True
    )
    await producer.start()
    per_dep = demandes // len(departements)
    plan = [(dep, r) for dep in departements for r in _requesters(territories, rng, dep, per_dep)]
    rng.shuffle(plan)
    semaphore = asyncio.Semaphore(16)
    try:
        async with (
            httpx.AsyncClient(base_url=requests_url, timeout=30) as client,
            httpx.AsyncClient(base_url=matching_url, timeout=30) as matching,
        ):
            with Progress(console=console) as progress:
                task = progress.add_task("Dépôt des demandes", total=len(plan))

                async def submit(dep: str, requester: tuple[str, int, str]) -> None:
                    code, population, nom = requester
                    body = _draft(rng, code, population, nom)
                    request_id = str(uuid.uuid4())
                    async with semaphore:
                        outcome.departement[request_id] = dep
                        outcome.submitted_at[request_id] = time.perf_counter()
                        if rng.random() < 0.2:
                            await _send_command(producer, dep, request_id, body)
                            outcome.channel["événement"] += 1
                        else:
                            token = _token(auth, dep, code if rng.random() < 0.5 else None)
                            response = await client.post(
                                "/v1/requests",
                                json=body,
                                headers={
                                    "Authorization": f"Bearer {token}",
                                    "Idempotency-Key": request_id,
                                },
                            )
                            if response.status_code >= 400:
                                outcome.rejected[str(response.status_code)] += 1
                                outcome.submitted_at.pop(request_id)
                            else:
                                outcome.channel["HTTP"] += 1
                    progress.advance(task)

                await asyncio.gather(*(submit(dep, r) for dep, r in plan))
                await _wait(
                    lambda: all(
                        "submitted" in outcome.seen.get(i, ()) for i in outcome.submitted_at
                    )
                )
                await _withdraw_some(client, auth, rng, outcome, departements)
                await _actors_answer(matching, auth, rng, outcome, progress, departements)
    finally:
        listener.cancel()
        await producer.stop()
        await consumer.stop()
    return outcome


async def _withdraw_some(
    client: httpx.AsyncClient,
    auth: AuthSettings,
    rng: random.Random,
    outcome: Outcome,
    departements: Sequence[str],
) -> None:
    """A few demandes are withdrawn in every département, by its team."""
    withdraw: list[str] = []
    for dep in departements:
        mine = sorted(i for i in outcome.submitted_at if outcome.departement[i] == dep)
        if mine:
            withdraw += rng.sample(mine, k=max(1, len(mine) // 20))
    for request_id in withdraw:
        token = _token(auth, outcome.departement[request_id], None)
        response = await client.post(
            f"/v1/requests/{request_id}/withdraw",
            json={"reason": "Projet reporté au prochain budget."},
            headers={"Authorization": f"Bearer {token}"},
        )
        if response.status_code == 200:
            outcome.withdrawn.add(request_id)
    await _wait(lambda: all("withdrawn" in outcome.seen.get(i, ()) for i in outcome.withdrawn))


async def _proposals(
    matching: httpx.AsyncClient, auth: AuthSettings, status: str, departements: Sequence[str]
) -> list[Any]:
    found: list[Any] = []
    for dep in departements:
        token = _token(auth, dep, None)
        response = await matching.get(
            f"/v1/assignments?status={status}&limit=500",
            headers={"Authorization": f"Bearer {token}"},
        )
        response.raise_for_status()
        found += response.json()
    return found


async def _actors_answer(
    matching: httpx.AsyncClient,
    auth: AuthSettings,
    rng: random.Random,
    outcome: Outcome,
    progress: Progress,
    departements: Sequence[str],
) -> None:
    """Actors accept most proposals, decline some, let a few expire; then report the
    missions they completed with the days spent."""
    ignored: set[str] = set()
    task = progress.add_task("Réponses des acteurs", total=None)
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        proposed = await _proposals(matching, auth, "proposed", departements)
        if not proposed:
            break
        pending = [p for p in proposed if p["id"] not in ignored]
        if not pending:
            # Only the ignored ones are left: they expire, and their next candidates come.
            await asyncio.sleep(2)
            continue
        for proposal in pending:
            actor = mint(
                auth,
                role=Role.ACTOR,
                subject=proposal["actor_id"],
                departement=proposal["departement"],
                scope=proposal["actor_id"],
            )
            headers = {"Authorization": f"Bearer {actor}"}
            draw = rng.random()
            if draw < 0.15 and proposal["round"] == 1:
                ignored.add(proposal["id"])
                outcome.answers["laissée expirer"] += 1
                continue
            if draw < 0.35 and proposal["round"] == 1:
                path, body = "decline", {"reason": "Plan de charge complet ce trimestre."}
                outcome.answers["déclinée"] += 1
            else:
                path, body = "accept", {}
                outcome.answers["acceptée"] += 1
            await matching.post(
                f"/v1/assignments/{proposal['id']}/{path}", json=body, headers=headers
            )
            progress.advance(task)
        # Declines bring next candidates through Kafka: give them a moment.
        await asyncio.sleep(1)
    accepted = await _proposals(matching, auth, "accepted", departements)
    for mission in accepted:
        if rng.random() < 0.3:
            continue  # still running when the scenario ends
        actor = mint(
            auth,
            role=Role.ACTOR,
            subject=mission["actor_id"],
            departement=mission["departement"],
            scope=mission["actor_id"],
        )
        days = Decimal(rng.randint(2, 60)) / Decimal(2)
        await matching.post(
            f"/v1/assignments/{mission['id']}/complete",
            json={"days_spent": str(days), "report": "Mission conduite à son terme."},
            headers={"Authorization": f"Bearer {actor}"},
        )
        outcome.answers["mission terminée"] += 1
    progress.update(task, total=1, completed=1)


def _token(auth: AuthSettings, departement: str, collectivite: str | None) -> str:
    if collectivite:
        return mint(
            auth,
            role=Role.COLLECTIVITE,
            subject=f"maire-{collectivite}",
            departement=departement,
            scope=collectivite,
        )
    return mint(
        auth, role=Role.DEPARTEMENT, subject=f"agent-{departement}", departement=departement
    )


def _admin_headers() -> dict[str, str]:
    token = mint(AuthSettings(), role=Role.ADMIN, subject="demo", departement=None)
    return {"Authorization": f"Bearer {token}"}


async def _send_command(
    producer: AIOKafkaProducer, dep: str, request_id: str, body: dict[str, Any]
) -> None:
    envelope = Envelope(
        type="requests.command.submit-request.v1", source=f"sig-departement-{dep}", departement=dep
    )
    await producer.send_and_wait(
        REQUESTS_COMMAND.name,
        value=json.dumps(body | {"request_id": request_id}).encode(),
        key=dep.encode(),
        headers=[(k, v.encode()) for k, v in envelope.to_headers().items()],
    )


async def _tap(kafka: KafkaSettings) -> AIOKafkaConsumer:
    consumer = AIOKafkaConsumer(bootstrap_servers=kafka.bootstrap_servers, enable_auto_commit=False)
    await consumer.start()
    partitions = [
        TopicPartition(topic.name, p)
        for topic in (REQUESTS_REQUEST, MATCHING_ASSIGNMENT, NOTIFICATIONS_DELIVERY)
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


async def _wait(done: Any, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not done() and time.monotonic() < deadline:
        await asyncio.sleep(0.2)


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


# --- the summary -----------------------------------------------------------------------------


async def report(
    urls: Mapping[str, str],
    played: Played,
    console: Console,
    mail_received: int | None = None,
) -> None:
    """The summary: demandes by status and département, unmatched and why, euros
    invoiced, notifications, latencies; all read from the services' APIs."""
    outcome = played.outcome
    departements = played.departements
    await _demandes_report(urls, departements, console)
    console.print(
        f"Dépôts : {outcome.channel['HTTP']} par l'API, {outcome.channel['événement']} par "
        f"événement Kafka ; refusés : {sum(outcome.rejected.values())} ; "
        f"retirées : {len(outcome.withdrawn)}"
    )
    console.print(
        "Réponses des acteurs : "
        + ", ".join(f"{what} {n}" for what, n in sorted(outcome.answers.items()))
    )
    await _unmatched_report(urls["matching"], departements, console)
    await _invoiced_report(urls["billing"], departements, console)
    await _notifications_report(urls["notifications"], departements, console)
    if mail_received is not None:
        console.print(f"Courriels reçus par la boîte aux lettres locale : {mail_received}")

    def latency(what: str, values: list[float]) -> None:
        console.print(
            f"Latence {what} : p50 {percentile(values, 0.5):.0f} ms, "
            f"p99 {percentile(values, 0.99):.0f} ms ({len(values)} mesures)"
        )

    latency("dépôt → événement « déposée » sur Kafka", outcome.latencies_ms)
    latency("dépôt → proposition d'acteur (ou « sans acteur »)", outcome.proposal_latencies_ms)
    latency("dépôt → accusé de réception remis au serveur de courriel", outcome.email_latencies_ms)


def _label(kind: type[StrEnum], labels: Mapping[Any, str], code: str) -> str:
    try:
        return labels[kind(code)]
    except (ValueError, KeyError):
        return code


def _nom(dep: str) -> str:
    found = get_territories().departement(dep)
    return f"{dep} {found.nom}" if found else dep


def _team_headers(auth: AuthSettings, dep: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {_token(auth, dep, None)}"}


async def _demandes_report(
    urls: Mapping[str, str], departements: Sequence[str], console: Console
) -> None:
    auth = AuthSettings()
    table = Table(title="Demandes par département et statut")
    table.add_column("Département")
    for label in STATUS_LABELS.values():
        table.add_column(label, justify="right")
    table.add_column("total", justify="right")
    async with httpx.AsyncClient(base_url=urls["requests"], timeout=30) as client:
        for dep in departements:
            counts = []
            for status in STATUS_LABELS:
                response = await client.get(
                    f"/v1/requests?status={status}&limit=1", headers=_team_headers(auth, dep)
                )
                response.raise_for_status()
                counts.append(int(response.json()["total"]))
            table.add_row(_nom(dep), *(str(c) for c in counts), str(sum(counts)))
    console.print(table)


async def _unmatched_report(
    matching_url: str, departements: Sequence[str], console: Console
) -> None:
    auth = AuthSettings()
    unmatched: list[Any] = []
    async with httpx.AsyncClient(base_url=matching_url, timeout=30) as matching:
        for dep in departements:
            unmatched += await _all_pages(matching, "/v1/unmatched", _team_headers(auth, dep))
    if not unmatched:
        console.print("Demandes sans acteur : aucune")
        return
    reasons = Counter(need for item in unmatched for need in item["uncovered_needs"])
    console.print(
        f"Demandes sans acteur : {len(unmatched)} ; besoins non couverts les plus fréquents :"
    )
    for need, n in reasons.most_common(8):
        theme, _, phase = need.partition("/")
        console.print(
            f"  · {n:>3} × {_label(Theme, THEME_LABELS, theme)}, "
            f"{_label(Phase, PHASE_LABELS, phase).lower()}"
        )
    console.print("  Par exemple :")
    for item in unmatched[:3]:
        console.print(
            f"  · {item['departement']} {item['requester_code']} — {item['summary'][:150]}"
        )


async def _invoiced_report(billing_url: str, departements: Sequence[str], console: Console) -> None:
    money = await invoiced(billing_url, departements)
    kinds = [k for k in KIND_LABELS if any(kind == k for _, kind in money)]
    table = Table(title="Facturé TTC (nombre de documents)")
    table.add_column("Département")
    for kind in kinds:
        table.add_column(KIND_LABELS[kind], justify="right")
    table.add_column("net", justify="right")
    grand = Decimal("0")
    for dep in departements:
        cells = []
        net = Decimal("0")
        for kind in kinds:
            count, total = money.get((dep, kind), (0, Decimal("0")))
            cells.append(f"{euros(total)} ({count})")
            net += -total if kind == "avoir" else total
        grand += net
        table.add_row(_nom(dep), *cells, euros(net))
    console.print(table)
    console.print(f"Total facturé : {euros(grand)}")


async def _notifications_report(
    notifications_url: str, departements: Sequence[str], console: Console
) -> None:
    by_channel: dict[str, Counter[str]] = {}
    for (channel, status), n in (await deliveries(notifications_url, departements)).items():
        by_channel.setdefault(channel, Counter())[status] += n
    if not by_channel:
        console.print("Notifications : aucune")
    for channel, statuses in sorted(by_channel.items()):
        console.print(
            f"Notifications par {CHANNEL_LABELS.get(channel, channel)} : "
            + ", ".join(
                f"{n} {DELIVERY_LABELS.get(status, status)}"
                for status, n in sorted(statuses.items(), key=lambda x: -x[1])
            )
        )


async def _all_pages(
    client: httpx.AsyncClient, path: str, headers: dict[str, str], limit: int = 500
) -> list[Any]:
    found: list[Any] = []
    separator = "&" if "?" in path else "?"
    while True:
        response = await client.get(
            f"{path}{separator}limit={limit}&offset={len(found)}", headers=headers
        )
        response.raise_for_status()
        page = response.json()
        found += page
        if len(page) < limit:
            return found


# --- set-up steps --------------------------------------------------------------------------


async def load_catalogues(
    matching_url: str, departements: Sequence[str] = DEPARTEMENTS
) -> dict[str, int]:
    """Load the shipped actor catalogues through the matching API, as a team would."""
    loaded: dict[str, int] = {}
    folder = resources.files("services.matching.catalogues")
    async with httpx.AsyncClient(base_url=matching_url, timeout=30) as client:
        for dep in departements:
            body = json.loads(folder.joinpath(f"{dep}.json").read_text(encoding="utf-8"))
            response = await client.put("/v1/actors", json=body, headers=_admin_headers())
            response.raise_for_status()
            loaded[dep] = response.json()["actors"]
    return loaded


async def register_contacts(
    notifications_url: str, departements: Sequence[str] = DEPARTEMENTS
) -> int:
    """Each département's team gives the notifications service its actors' addresses."""
    auth = AuthSettings()
    folder = resources.files("services.matching.catalogues")
    saved = 0
    async with httpx.AsyncClient(base_url=notifications_url, timeout=30) as client:
        for dep in departements:
            catalogue = json.loads(folder.joinpath(f"{dep}.json").read_text(encoding="utf-8"))
            headers = {"Authorization": f"Bearer {_token(auth, dep, None)}"}
            for actor in catalogue["actors"]:
                response = await client.put(
                    f"/v1/actors/{actor['id']}/contact",
                    json={"email": f"contact@{actor['id']}.example.fr", "name": actor["name"]},
                    headers=headers,
                )
                response.raise_for_status()
                saved += 1
    return saved


def enrol_members(
    years: tuple[int, ...],
    departements: Sequence[str] = DEPARTEMENTS,
    env: Mapping[str, str] | None = None,
) -> str:
    """Every commune and EPCI of the départements joins the offer for these years, with
    the billing service's own command (``env`` added to this environment)."""
    lines = []
    for year in years:
        args = ["enrol", "--year", str(year)]
        for dep in departements:
            args += ["-d", dep]
        done = subprocess.run(
            [sys.executable, "-m", "services.billing.entrypoints.cotisation_cli", *args],
            capture_output=True,
            text=True,
            check=True,
            env={**os.environ, **(env or {})},
        )
        lines.append(done.stdout.strip())
    return " ; ".join(lines)


async def cotisation_run(
    billing_url: str, year: int, console: Console, departements: Sequence[str] = DEPARTEMENTS
) -> dict[str, Any]:
    """The annual cotisation run through the billing API, with its progress."""
    headers = _admin_headers()
    async with httpx.AsyncClient(base_url=billing_url, timeout=30) as client:
        started = await client.post(
            "/v1/cotisation-runs",
            json={"year": year, "departements": list(departements)},
            headers=headers,
        )
        started.raise_for_status()
        run_id = started.json()["id"]
        with Progress(console=console) as progress:
            task = progress.add_task(
                f"Appel de cotisations {year}", total=started.json()["members"]
            )
            while True:
                response = await client.get(f"/v1/cotisation-runs/{run_id}", headers=headers)
                response.raise_for_status()
                run = response.json()
                # Members invoiced by an earlier run are counted when this one ends.
                progress.update(task, completed=run["issued"] + run["already_invoiced"])
                if run["status"] != "running":
                    return dict(run)
                await asyncio.sleep(0.3)


async def invoiced(
    billing_url: str, departements: Sequence[str] = DEPARTEMENTS
) -> dict[tuple[str, str], tuple[int, Decimal]]:
    """Invoices by département and kind (``avoir`` for credit notes), with their total
    including tax."""
    found: dict[tuple[str, str], tuple[int, Decimal]] = {}
    async with httpx.AsyncClient(base_url=billing_url, timeout=30) as client:
        for dep in departements:
            for invoice in await _all_pages(
                client, f"/v1/invoices?departement={dep}", _admin_headers(), limit=1000
            ):
                kind = invoice["invoice_kind"] if invoice["document_kind"] == "invoice" else "avoir"
                count, total = found.get((dep, kind), (0, Decimal("0")))
                found[(dep, kind)] = (count + 1, total + Decimal(invoice["total_incl_tax"]))
    return found


async def deliveries(
    notifications_url: str, departements: Sequence[str] = DEPARTEMENTS
) -> Counter[tuple[str, str]]:
    """Deliveries of the départements by (channel, status), from each team's view."""
    auth = AuthSettings()
    found: Counter[tuple[str, str]] = Counter()
    async with httpx.AsyncClient(base_url=notifications_url, timeout=30) as client:
        for dep in departements:
            headers = {"Authorization": f"Bearer {_token(auth, dep, None)}"}
            for delivery in await _all_pages(client, "/v1/deliveries", headers):
                found[(delivery["channel"], delivery["status"])] += 1
    return found


async def wait_for_notifications(
    notifications_url: str,
    departements: Sequence[str],
    console: Console,
    timeout: float = 180.0,
    settle: float = 2.0,
) -> None:
    """Until nothing is left to send now (no ``pending`` delivery, and the count has
    not moved for ``settle`` seconds), with a progress bar; gives up after ``timeout``."""
    deadline = time.monotonic() + timeout
    last = -1
    steady_since = time.monotonic()
    with Progress(console=console) as progress:
        task = progress.add_task("Envoi des notifications", total=None)
        while time.monotonic() < deadline:
            counts = await deliveries(notifications_url, departements)
            total = sum(counts.values())
            pending = sum(n for (_, status), n in counts.items() if status == "pending")
            progress.update(task, total=total, completed=total - pending)
            if total != last:
                last, steady_since = total, time.monotonic()
            elif pending == 0 and time.monotonic() - steady_since >= settle:
                return
            await asyncio.sleep(0.5)
