"""The flows of a stack run: one per demande, what the tap saw of it on Kafka, the actors
who answer its proposals, the demandes themselves and the loops that wait for them."""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import time
import uuid
from collections import defaultdict
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
from aiokafka.structs import ConsumerRecord

from shared.auth.tokens import Role
from shared.contracts.topics import (
    BILLING_INVOICE,
    MATCHING_ASSIGNMENT,
    NOTIFICATIONS_DELIVERY,
    REQUESTS_REQUEST,
)
from shared.refdata import get_territories
from shared.settings import AuthSettings, KafkaSettings
from stack.harness.follower import Follower
from stack.harness.stack import bearer_header
from stack.scenario.plan import draft, requesters

# Event types the tap follows, and the stage of a flow each one marks.
SUBMITTED = "requests.request.submitted.v2"
PROPOSED = "matching.assignment.proposed.v1"
ACCEPTED = "matching.assignment.accepted.v1"
COMPLETED = "matching.assignment.completed.v1"
UNMATCHED = "matching.request.unmatched.v1"
INVOICED = "billing.invoice.issued.v1"
DELIVERED = "notifications.delivery.sent.v1"
# The stages of a demande that goes the whole way, in order.
STAGES = ("submitted", "proposed", "accepted", "completed", "invoiced")
STAGE_OF = {
    SUBMITTED: "submitted",
    PROPOSED: "proposed",
    ACCEPTED: "accepted",
    COMPLETED: "completed",
    UNMATCHED: "unmatched",
    INVOICED: "invoiced",
}


# --- flows ------------------------------------------------------------------------------------


@dataclass
class Sighting:
    """One record of a flow on a topic: its Kafka timestamp (producer's clock, seconds),
    when the tap read it, and what identifies it."""

    at: float
    read_at: float
    ce_id: str
    partition: int
    ref: str = ""  # assignment id, or invoice document id


@dataclass
class Flow:
    request_id: str
    departement: str
    scheduled_at: float = 0.0
    posted_at: float | None = None
    http_status: int | None = None
    http_seconds: float | None = None
    seen: dict[str, list[Sighting]] = field(default_factory=lambda: defaultdict(list))
    # The actor's side: (started, finished, HTTP status) of accept and of complete.
    accept: tuple[float, float, int] | None = None
    complete: tuple[float, float, int] | None = None

    def first(self, stage: str) -> Sighting | None:
        sightings = self.seen.get(stage)
        return min(sightings, key=lambda s: s.at) if sightings else None


@dataclass
class InvoiceOwners:
    """Which invoices seen on the topic are our billing service's: other billing services
    on a shared broker invoice our completed missions too. Our relay publishes an invoice
    after its commit, so one missing from our database is not ours."""

    ours: set[str] = field(default_factory=set)
    foreign: set[str] = field(default_factory=set)

    # ``lookup`` runs it on our billing database, with the ids as ``$1``.
    SQL = "SELECT id FROM invoices WHERE id = ANY($1::uuid[])"

    async def classify(
        self, flows: Iterable[Flow], lookup: Callable[[list[str]], Awaitable[set[str]]]
    ) -> None:
        """Sort the invoices of ``flows`` not sorted yet; ``lookup`` returns those of the
        given ids that our billing database holds."""
        unknown = {
            s.ref
            for f in flows
            for s in f.seen.get("invoiced", ())
            if s.ref not in self.ours and s.ref not in self.foreign
        }
        if not unknown:
            return
        ours = await lookup(sorted(unknown))
        self.ours |= ours
        self.foreign |= unknown - ours


class EventTap(Follower):
    """Reads the product's topics from their end and files our records under their flow.

    ``on_proposed`` is called once per record of a proposal made to one of ``actor_ids``
    (the :class:`ActorDriver` hooks there).
    """

    TOPICS = (
        REQUESTS_REQUEST.name,
        MATCHING_ASSIGNMENT.name,
        BILLING_INVOICE.name,
        NOTIFICATIONS_DELIVERY.name,
    )

    def __init__(
        self,
        kafka: KafkaSettings,
        actor_ids: Iterable[str],
        on_proposed: Callable[[Flow, dict[str, Any]], None] | None = None,
    ) -> None:
        super().__init__(kafka, self.TOPICS)
        self.actor_ids = set(actor_ids)
        self.flows: dict[str, Flow] = {}
        self.on_proposed = on_proposed
        self.foreign_records = 0
        self.advances = 0
        self.deliveries: dict[str, list[tuple[float, str]]] = defaultdict(list)  # source ce_id
        self.read = 0

    def expect(self, flow: Flow) -> None:
        self.flows[flow.request_id] = flow

    def file(self, record: ConsumerRecord[Any, Any], now: float) -> None:
        self.read += 1
        self._file(record, now)

    def _file(self, record: ConsumerRecord[Any, Any], now: float) -> None:
        headers = dict(record.headers or ())
        ce_type = headers.get("ce_type", b"").decode("ascii", "replace")
        if ce_type not in STAGE_OF and ce_type != DELIVERED:
            return
        try:
            body = json.loads(record.value or b"{}")
        except ValueError:
            return
        ce_id = headers.get("ce_id", b"").decode("ascii", "replace")
        at = record.timestamp / 1000
        if ce_type == DELIVERED:
            self.deliveries[str(body.get("source_event_id"))].append((at, str(body.get("kind"))))
            return
        flow = self.flows.get(str(body.get("request_id")))
        if flow is None:
            self.foreign_records += 1
            return
        stage = STAGE_OF[ce_type]
        ref = ""
        if record.topic == MATCHING_ASSIGNMENT.name and stage != "unmatched":
            if body.get("actor_id") not in self.actor_ids:
                # Another matching service on the shared topics routed our demande too.
                self.foreign_records += 1
                return
            ref = str(body.get("assignment_id"))
        elif stage == "invoiced":
            if "causation_id" not in headers:
                # The advance invoiced at the convention's signature (an HTTP call, no
                # cause): the flow's invoice is the balance, caused by the completion.
                self.advances += 1
                return
            ref = str(body.get("document_id"))
        flow.seen[stage].append(Sighting(at, now, ce_id, record.partition, ref))
        if stage == "proposed" and self.on_proposed is not None:
            self.on_proposed(flow, body)


class ActorDriver:
    """The actors: each proposal made to one of ours is accepted, then completed with
    ``days_spent`` days, over the matching API, with that actor's own token. With
    ``billing``, a lead actor's mission is completed once its convention is sent by the
    actor and signed by the collectivité (no mission is invoiced without one)."""

    def __init__(
        self,
        client: Callable[[], httpx.AsyncClient],
        auth: AuthSettings | None = None,
        *,
        days_spent: str = "2",
        concurrency: int = 48,
        billing: Callable[[], httpx.AsyncClient] | None = None,
    ) -> None:
        self._client = client
        self._billing = billing
        self._auth = auth or AuthSettings()
        self._days = days_spent
        self._semaphore = asyncio.Semaphore(concurrency)
        self._headers: dict[tuple[str, str], dict[str, str]] = {}
        self._handled: set[str] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self.errors: list[str] = []

    def on_proposed(self, flow: Flow, body: dict[str, Any]) -> None:
        assignment_id = str(body["assignment_id"])
        if assignment_id in self._handled:
            return  # the relay published it again: the actor answered already
        self._handled.add(assignment_id)
        task = asyncio.create_task(self._answer(flow, body))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _actor_headers(self, departement: str, actor_id: str) -> dict[str, str]:
        key = (departement, actor_id)
        if key not in self._headers:
            self._headers[key] = bearer_header(self._auth, Role.ACTOR, departement, actor_id)
        return self._headers[key]

    async def _post(self, path: str, body: dict[str, Any] | None, headers: dict[str, str]) -> int:
        return await self._post_to(self._client, path, body, headers)

    async def _post_to(
        self,
        client: Callable[[], httpx.AsyncClient],
        path: str,
        body: dict[str, Any] | None,
        headers: dict[str, str],
    ) -> int:
        for attempt in range(3):
            try:
                response = await client().post(path, json=body, headers=headers)
            except httpx.TransportError as exc:
                if attempt == 2:
                    self.errors.append(f"{path}: {exc!r}")
                    return 0
                await asyncio.sleep(0.5)
                continue
            if response.status_code >= 500 and attempt < 2:
                await asyncio.sleep(0.5)
                continue
            if response.status_code >= 400:
                self.errors.append(f"{path}: {response.status_code} {response.text[:200]}")
            return response.status_code
        return 0

    async def _answer(self, flow: Flow, body: dict[str, Any]) -> None:
        headers = self._actor_headers(str(body["departement"]), str(body["actor_id"]))
        base = f"/v1/assignments/{body['assignment_id']}"
        async with self._semaphore:
            started = time.time()
            status = await self._post(f"{base}/accept", None, headers)
            flow.accept = (started, time.time(), status)
            if status != 200:
                return
            if self._billing is not None and body.get("lead"):
                await self._sign_convention(body, headers)
            started = time.time()
            status = await self._post(f"{base}/complete", {"days_spent": self._days}, headers)
            flow.complete = (started, time.time(), status)

    async def _sign_convention(self, body: dict[str, Any], actor: dict[str, str]) -> None:
        """Billing prepares the convention from the acceptance: the actor sends it, the
        collectivité signs it."""
        assert self._billing is not None
        departement, code = str(body["departement"]), str(body["requester_code"])
        team = bearer_header(self._auth, Role.DEPARTEMENT, departement, None)
        deadline = time.monotonic() + 60
        path = f"/v1/conventions?demande_id={body['request_id']}"
        found: list[Any] = []
        while not found and time.monotonic() < deadline:
            # A killed billing instance (the drills): try again until it is back.
            with contextlib.suppress(httpx.TransportError, RuntimeError):
                response = await self._billing().get(path, headers=team)
                found = response.json() if response.status_code == 200 else []
            if not found:
                await asyncio.sleep(0.2)
        if not found:
            self.errors.append(f"{path}: no convention after 60 s")
            return
        url = f"/v1/conventions/{found[0]['id']}"
        signer = bearer_header(self._auth, Role.COLLECTIVITE, departement, code)
        client = self._billing
        await self._post_to(client, f"{url}/send", None, actor)
        await self._post_to(client, f"{url}/sign", {"engagement_number": "EJ-DRILL"}, signer)

    async def drain(self) -> None:
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)


# --- demandes ---------------------------------------------------------------------------------


class Demandes:
    """Realistic demandes from real communes and EPCI (drawn as the demo's,
    :mod:`stack.scenario.plan`), each with the token of whoever files it: the collectivité
    itself, or its département's team."""

    def __init__(self, departements: Iterable[str], seed: int = 2026) -> None:
        self._rng = random.Random(seed)
        self._auth = AuthSettings()
        self._today = datetime.now(UTC).date()
        territories = get_territories()
        self._requesters = {d: requesters(territories, self._rng, d, 200) for d in departements}
        self._departements = tuple(departements)
        self._headers: dict[tuple[str, str | None], dict[str, str]] = {}
        self._n = 0

    def next(self, departement: str | None = None) -> tuple[Flow, dict[str, Any], dict[str, str]]:
        """A new flow (its request id is the Idempotency-Key), its body and headers; the
        départements take turns unless one is named."""
        if departement is None:
            departement = self._departements[self._n % len(self._departements)]
            self._n += 1
        code, population, nom = self._rng.choice(self._requesters[departement])
        body = draft(self._rng, code, population, nom, self._today)
        own = code if self._rng.random() < 0.5 and len(code) == 5 else None
        key = (departement, own)
        if key not in self._headers:
            role = Role.COLLECTIVITE if own else Role.DEPARTEMENT
            self._headers[key] = bearer_header(self._auth, role, departement, own)
        flow = Flow(request_id=str(uuid.uuid4()), departement=departement)
        headers = self._headers[key] | {"Idempotency-Key": flow.request_id}
        return flow, body, headers


async def until_settled(
    progress: Callable[[], Awaitable[int]],
    total: int,
    *,
    timeout: float,
    stall: float,
    poll: float,
) -> bool:
    """Until ``progress()`` reaches ``total``; False after ``timeout``, or after ``stall``
    seconds without progress."""
    deadline = time.monotonic() + timeout
    last, moved = -1, time.monotonic()
    while True:
        done = await progress()
        now = time.monotonic()
        if done == total:
            return True
        if done != last:
            last, moved = done, now
        if now > deadline or now - moved > stall:
            return False
        await asyncio.sleep(poll)


async def warm_up(
    departements: Iterable[str],
    start: Callable[[str], Awaitable[Flow]],
    settle: Callable[[list[Flow]], Awaitable[object]],
    through: Callable[[Flow], bool],
    log: Callable[[str], None],
) -> list[Flow]:
    """One flow per département until each got through: every partition that our keys use
    is then consumed by every group (offset reset ``latest``). Returns every flow started."""
    missing = list(departements)
    started: list[Flow] = []
    for _attempt in range(8):
        batch = [await start(departement) for departement in missing]
        started += batch
        await settle(batch)
        missing = [f.departement for f in batch if not through(f)]
        if not missing:
            return started
        log(f"warm-up: not through yet for {missing}, again")
    raise RuntimeError(f"warm-up never got through for {missing}")


async def submit(
    client: httpx.AsyncClient, flow: Flow, body: dict[str, Any], headers: dict[str, str]
) -> None:
    """POST the demande, timing it; a transport error is recorded as status 0."""
    flow.posted_at = time.time()
    started = time.perf_counter()
    try:
        response = await client.post("/v1/requests", json=body, headers=headers)
        flow.http_status = response.status_code
    except httpx.TransportError:
        flow.http_status = 0
    flow.http_seconds = time.perf_counter() - started


async def wait_until(
    condition: Callable[[], bool],
    *,
    timeout: float,
    progress: Callable[[], int] | None = None,
    stall: float | None = None,
) -> bool:
    """Poll ``condition``; give up after ``timeout``, or after ``stall`` seconds without
    ``progress()`` moving."""
    deadline = time.monotonic() + timeout
    last = progress() if progress else 0
    moved = time.monotonic()
    while not condition():
        now = time.monotonic()
        if now > deadline:
            return False
        if progress is not None and stall is not None:
            current = progress()
            if current != last:
                last, moved = current, now
            elif now - moved > stall:
                return False
        await asyncio.sleep(0.1)
    return True
