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
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from shared.auth.tokens import Role, mint
from shared.contracts.topics import REQUESTS_COMMAND, REQUESTS_REQUEST
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
        async with httpx.AsyncClient(base_url=requests_url, timeout=30) as client:
            with Progress(console=console, transient=True) as progress:
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
                    outcome,
                    lambda: all(
                        "submitted" in outcome.seen.get(i, ()) for i in outcome.submitted_at
                    ),
                )
                withdraw = rng.sample(
                    sorted(outcome.submitted_at), k=max(1, len(outcome.submitted_at) // 20)
                )
                for request_id in withdraw:
                    dep = outcome.departement[request_id]
                    token = _token(auth, dep, None)
                    response = await client.post(
                        f"/v1/requests/{request_id}/withdraw",
                        json={"reason": "Projet reporté au prochain budget."},
                        headers={"Authorization": f"Bearer {token}"},
                    )
                    if response.status_code == 200:
                        outcome.withdrawn.add(request_id)
                await _wait(
                    outcome,
                    lambda: all("withdrawn" in outcome.seen.get(i, ()) for i in outcome.withdrawn),
                )
    finally:
        listener.cancel()
        await producer.stop()
        await consumer.stop()
    return outcome


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
        TopicPartition(REQUESTS_REQUEST.name, p) for p in range(REQUESTS_REQUEST.partitions)
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
        kind = headers.get("ce_type", "").split(".")[2] if headers.get("ce_type") else "?"
        if request_id in outcome.submitted_at and kind not in outcome.seen.setdefault(
            request_id, set()
        ):
            outcome.seen[request_id].add(kind)
            if kind == "submitted":
                outcome.latencies_ms.append(
                    (time.perf_counter() - outcome.submitted_at[request_id]) * 1000
                )


async def _wait(outcome: Outcome, done: Any, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not done() and time.monotonic() < deadline:
        await asyncio.sleep(0.2)


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def summary(outcome: Outcome, console: Console) -> None:
    territories = get_territories()
    table = Table(title="Demandes par département et statut")
    table.add_column("Département")
    table.add_column("Reçues", justify="right")
    table.add_column("Retirées", justify="right")
    table.add_column("Publiées sur Kafka", justify="right")
    for dep in DEPARTEMENTS:
        ids = [i for i, d in outcome.departement.items() if d == dep and i in outcome.submitted_at]
        nom = territories.departement(dep)
        table.add_row(
            f"{dep} {nom.nom if nom else ''}",
            str(len(ids)),
            str(len([i for i in ids if i in outcome.withdrawn])),
            str(len([i for i in ids if "submitted" in outcome.seen.get(i, ())])),
        )
    console.print(table)
    console.print(f"Canaux : {dict(outcome.channel)} ; refus : {dict(outcome.rejected) or 'aucun'}")
    console.print(
        "Latence dépôt → événement sur Kafka : "
        f"p50 {percentile(outcome.latencies_ms, 0.5):.1f} ms, "
        f"p99 {percentile(outcome.latencies_ms, 0.99):.1f} ms "
        f"({len(outcome.latencies_ms)} mesures)"
    )
