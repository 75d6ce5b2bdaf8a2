"""The demo scenario: real communes and EPCI of several départements ask for help.

Deterministic for a given seed. Demandes arrive over HTTP (from the collectivité
itself or from the département's team) and as command events from a
département system; a few are withdrawn. Every event is then read back from
Kafka to measure the end-to-end latency.
"""

from __future__ import annotations

import asyncio
import json
import random
import subprocess
import sys
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from importlib import resources
from typing import Any

import httpx
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from shared.auth.tokens import Role, mint
from shared.contracts.topics import MATCHING_ASSIGNMENT, REQUESTS_COMMAND, REQUESTS_REQUEST
from shared.contracts.vocabulary import Phase, Theme
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


async def run_scenario(
    requests_url: str,
    matching_url: str,
    kafka: KafkaSettings,
    *,
    demandes: int = 300,
    seed: int = 2026,
    console: Console,
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
    per_dep = demandes // len(DEPARTEMENTS)
    plan = [(dep, r) for dep in DEPARTEMENTS for r in _requesters(territories, rng, dep, per_dep)]
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
                withdraw = rng.sample(
                    sorted(outcome.submitted_at), k=max(1, len(outcome.submitted_at) // 20)
                )
                for request_id in withdraw:
                    token = _token(auth, outcome.departement[request_id], None)
                    response = await client.post(
                        f"/v1/requests/{request_id}/withdraw",
                        json={"reason": "Projet reporté au prochain budget."},
                        headers={"Authorization": f"Bearer {token}"},
                    )
                    if response.status_code == 200:
                        outcome.withdrawn.add(request_id)
                await _wait(
                    lambda: all("withdrawn" in outcome.seen.get(i, ()) for i in outcome.withdrawn)
                )
                await _actors_answer(matching, auth, rng, outcome, progress)
    finally:
        listener.cancel()
        await producer.stop()
        await consumer.stop()
    return outcome


async def _proposals(matching: httpx.AsyncClient, auth: AuthSettings, status: str) -> list[Any]:
    found: list[Any] = []
    for dep in DEPARTEMENTS:
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
) -> None:
    """Actors accept most proposals, decline some, let a few expire; then report the
    missions they completed with the days spent."""
    ignored: set[str] = set()
    task = progress.add_task("Réponses des acteurs", total=None)
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        proposed = await _proposals(matching, auth, "proposed")
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
    accepted = await _proposals(matching, auth, "accepted")
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
        for topic in (REQUESTS_REQUEST, MATCHING_ASSIGNMENT)
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
        request_id = json.loads(record.value).get("request_id")
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


async def report(requests_url: str, matching_url: str, outcome: Outcome, console: Console) -> None:
    territories = get_territories()
    auth = AuthSettings()
    statuses = ["submitted", "proposed", "in_progress", "completed", "unmatched", "withdrawn"]
    table = Table(title="Demandes par département et statut (API des demandes)")
    table.add_column("Département")
    for status in statuses:
        table.add_column(status, justify="right")
    unmatched: list[Any] = []
    async with (
        httpx.AsyncClient(base_url=requests_url, timeout=30) as client,
        httpx.AsyncClient(base_url=matching_url, timeout=30) as matching,
    ):
        for dep in DEPARTEMENTS:
            headers = {"Authorization": f"Bearer {_token(auth, dep, None)}"}
            counts = []
            for status in statuses:
                page = (
                    await client.get(f"/v1/requests?status={status}&limit=1", headers=headers)
                ).json()
                counts.append(str(page["total"]))
            nom = territories.departement(dep)
            table.add_row(f"{dep} {nom.nom if nom else ''}", *counts)
            unmatched += (await matching.get("/v1/unmatched?limit=5", headers=headers)).json()
    console.print(table)
    console.print(f"Canaux : {dict(outcome.channel)} ; refus : {dict(outcome.rejected) or 'aucun'}")
    console.print(f"Réponses des acteurs : {dict(outcome.answers)}")
    if unmatched:
        console.print("Demandes sans acteur (exemples) :")
        for item in unmatched[:6]:
            console.print(
                f"  · {item['departement']} {item['requester_code']} "
                f"{', '.join(item['uncovered_needs'])} — {item['summary'][:110]}"
            )
    console.print(
        "Latence dépôt → événement « reçue » sur Kafka : "
        f"p50 {percentile(outcome.latencies_ms, 0.5):.1f} ms, "
        f"p99 {percentile(outcome.latencies_ms, 0.99):.1f} ms "
        f"({len(outcome.latencies_ms)} mesures)"
    )
    console.print(
        "Latence dépôt → proposition d'acteur (ou « sans acteur ») : "
        f"p50 {percentile(outcome.proposal_latencies_ms, 0.5):.1f} ms, "
        f"p99 {percentile(outcome.proposal_latencies_ms, 0.99):.1f} ms "
        f"({len(outcome.proposal_latencies_ms)} mesures)"
    )


async def load_catalogues(matching_url: str) -> dict[str, int]:
    """Load the shipped actor catalogues through the matching API, as a team would."""
    loaded: dict[str, int] = {}
    token = mint(AuthSettings(), role=Role.ADMIN, subject="demo", departement=None)
    folder = resources.files("services.matching.catalogues")
    async with httpx.AsyncClient(base_url=matching_url, timeout=30) as client:
        for dep in DEPARTEMENTS:
            body = json.loads(folder.joinpath(f"{dep}.json").read_text(encoding="utf-8"))
            response = await client.put(
                "/v1/actors", json=body, headers={"Authorization": f"Bearer {token}"}
            )
            response.raise_for_status()
            loaded[dep] = response.json()["actors"]
    return loaded


def enrol_members(years: tuple[int, ...]) -> str:
    """Every commune and EPCI of the demo départements joins the offer for these years,
    with the billing service's own command."""
    lines = []
    for year in years:
        args = ["enrol", "--year", str(year)]
        for dep in DEPARTEMENTS:
            args += ["-d", dep]
        done = subprocess.run(  # noqa: S603
            [sys.executable, "-m", "services.billing.entrypoints.cotisation_cli", *args],
            capture_output=True,
            text=True,
            check=True,
        )
        lines.append(done.stdout.strip())
    return " ; ".join(lines)


async def cotisation_run(billing_url: str, year: int, console: Console) -> dict[str, Any]:
    """The annual cotisation run through the billing API, with its progress."""
    token = mint(AuthSettings(), role=Role.ADMIN, subject="demo", departement=None)
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=billing_url, timeout=30) as client:
        started = await client.post(
            "/v1/cotisation-runs",
            json={"year": year, "departements": list(DEPARTEMENTS)},
            headers=headers,
        )
        started.raise_for_status()
        run_id = started.json()["id"]
        with Progress(console=console) as progress:
            task = progress.add_task(
                f"Appel de cotisations {year}", total=started.json()["members"]
            )
            while True:
                run = (await client.get(f"/v1/cotisation-runs/{run_id}", headers=headers)).json()
                progress.update(task, completed=run["issued"])
                if run["status"] != "running":
                    return dict(run)
                await asyncio.sleep(0.3)


async def invoiced(billing_url: str) -> dict[str, tuple[int, Decimal]]:
    """Invoices by kind, with their total including tax, over the demo départements."""
    token = mint(AuthSettings(), role=Role.ADMIN, subject="demo", departement=None)
    headers = {"Authorization": f"Bearer {token}"}
    found: dict[str, tuple[int, Decimal]] = {}
    async with httpx.AsyncClient(base_url=billing_url, timeout=30) as client:
        for dep in DEPARTEMENTS:
            offset = 0
            while True:
                page = (
                    await client.get(
                        f"/v1/invoices?departement={dep}&limit=1000&offset={offset}",
                        headers=headers,
                    )
                ).json()
                for invoice in page:
                    kind = (
                        invoice["invoice_kind"]
                        if invoice["document_kind"] == "invoice"
                        else "avoir"
                    )
                    count, total = found.get(kind, (0, Decimal("0")))
                    found[kind] = (count + 1, total + Decimal(invoice["total_incl_tax"]))
                if len(page) < 1000:
                    break
                offset += 1000
    return found
