"""Chained phases in the demo: some completed missions open their project's next phase,
which matching routes again; the summary counts them and shows the projects as the local
Les Communs received them (ADR 0015).

Played after every mission of the scenario ended, one demande at a time per
département, so that the actors' load, and therefore the routing of the next phases,
depends on the seed alone."""

from __future__ import annotations

import asyncio
import functools
import os
import random
import time
import uuid
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import httpx
from rich.console import Console
from rich.table import Table

from shared.contracts.vocabulary import PHASE_LABELS, Phase
from shared.settings import AuthSettings
from stack.harness.les_communs import PHASE_STATUSES, PHASES
from stack.harness.les_communs_process import URL, LesCommunsProcess
from stack.scenario.api import actor_headers, admin_headers, team_headers
from stack.scenario.outcome import Mission, Outcome
from stack.scenario.plan import Demande, days_spent

# The share of completed demandes whose project goes on to its next phase.
NEXT_PHASE_SHARE = 0.5
# How long a completion may take to reach the requests service, and the publication of
# every project to reach Les Communs.
WAIT_SECONDS = 30.0


@dataclass(frozen=True)
class NextPhase:
    departement: str
    demande_id: str
    phase: str
    opened_by: str
    # How matching routed it: "proposed" (an actor was proposed) or "unmatched".
    routed: str


def goes_on(seed: int, demande: Demande) -> bool:
    return random.Random(f"{seed}:{demande.index}:next-phase").random() < NEXT_PHASE_SHARE


async def open_next_phases(
    requests: httpx.AsyncClient,
    auth: AuthSettings,
    outcome: Outcome,
    seed: int,
    departements: Sequence[str],
) -> list[NextPhase]:
    """For the drawn share of completed demandes: the lead actor (or, one time in three,
    the département's team) opens the next phase; each waits for its routing."""
    missions: dict[str, list[Mission]] = {}
    for mission in outcome.missions:
        missions.setdefault(mission.demande.request_id, []).append(mission)
    chosen: dict[str, list[Demande]] = {dep: [] for dep in departements}
    for mine in missions.values():
        demande = mine[0].demande
        # Every mission of the demande ended (the plan leaves some running): it completed.
        ended = all(days_spent(seed, m.demande, m.actor_id) is not None for m in mine)
        if ended and goes_on(seed, demande):
            chosen[demande.departement].append(demande)
    opened = await asyncio.gather(
        *(_open_in(requests, auth, outcome, seed, chosen[dep]) for dep in departements)
    )
    return [phase for per_departement in opened for phase in per_departement]


async def _open_in(
    requests: httpx.AsyncClient,
    auth: AuthSettings,
    outcome: Outcome,
    seed: int,
    demandes: list[Demande],
) -> list[NextPhase]:
    opened = []
    for demande in demandes:
        read = await _completed(requests, auth, demande)
        if read is None or read["phase"] == Phase.EXPLOITATION.value:
            continue
        leads = [a["actor_id"] for a in read["assignments"] if a["lead"]]
        by_team = not leads or random.Random(f"{seed}:{demande.index}:opener").random() < 1 / 3
        headers = (
            team_headers(auth, demande.departement)
            if by_team
            else actor_headers(auth, demande.departement, leads[0])
        )
        new_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"mg-demo:{seed}:{demande.request_id}:next"))
        outcome.departement[new_id] = demande.departement
        outcome.submitted_at[new_id] = time.perf_counter()
        response = await requests.post(
            f"/v1/requests/{demande.request_id}/next-phase",
            # The deliverables of the closed phase's missions go with it by themselves.
            json={},
            headers=headers | {"Idempotency-Key": new_id},
        )
        if response.status_code not in (200, 201):
            del outcome.submitted_at[new_id]
            continue
        await _until(functools.partial(outcome.routed, new_id))
        opened.append(
            NextPhase(
                demande.departement,
                new_id,
                response.json()["phase"],
                "équipe du département" if by_team else "acteur pilote",
                "proposed" if "proposed" in outcome.seen.get(new_id, ()) else "unmatched",
            )
        )
    return opened


async def _completed(
    requests: httpx.AsyncClient, auth: AuthSettings, demande: Demande
) -> dict[str, Any] | None:
    """The demande once the requests service heard that its missions completed."""
    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline:
        response = await requests.get(
            f"/v1/requests/{demande.request_id}", headers=team_headers(auth, demande.departement)
        )
        read: dict[str, Any] = response.json()
        if read["status"] == "completed":
            return read
        await asyncio.sleep(0.2)
    return None


async def _until(done: Callable[[], bool], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not done():
        if time.monotonic() > deadline:
            raise TimeoutError("matching n'a pas routé la phase suivante")
        await asyncio.sleep(0.02)


def _next_phases_line(opened: list[NextPhase]) -> str:
    if not opened:
        return "aucune"
    by_phase = Counter(PHASE_LABELS[Phase(p.phase)] for p in opened)
    by_opener = Counter(p.opened_by for p in opened)
    by_departement = Counter(p.departement for p in opened)
    return (
        f"{len(opened)} ("
        + ", ".join(f"{dep} : {n}" for dep, n in sorted(by_departement.items()))
        + ") ; vers "
        + ", ".join(f"{label} {n}" for label, n in sorted(by_phase.items()))
        + " ; par "
        + ", ".join(f"{who} {n}" for who, n in sorted(by_opener.items()))
        + f" ; routées : acteur proposé {sum(p.routed == 'proposed' for p in opened)}, "
        + f"sans acteur {sum(p.routed == 'unmatched' for p in opened)}"
    )


async def phases_report(urls: Mapping[str, str], opened: list[NextPhase], console: Console) -> None:
    """Next phases opened, and the projects as the local Les Communs holds them."""
    console.print(f"Phases suivantes ouvertes : {_next_phases_line(opened)}")
    les_communs = LesCommunsProcess()
    if URL not in os.environ or not les_communs.wanted:
        # Not the demo's stack (the tests' has no Les Communs), or a real one: not read here.
        return
    try:
        projets = await _published(urls["notifications"], les_communs)
    except httpx.HTTPError as exc:
        console.print(f"Les Communs ({les_communs.url}) injoignable : {type(exc).__name__}")
        return
    table = Table(title=f"Projets reçus par Les Communs ({les_communs.url})")
    table.add_column("phase")
    table.add_column("statut de phase")
    table.add_column("projets", justify="right")
    counts = Counter((p.get("phase") or "—", p.get("phaseStatut") or "—") for p in projets)
    for (phase, statut), n in sorted(counts.items(), key=lambda item: _order(item[0])):
        table.add_row(phase, statut, str(n))
    console.print(table)


def _order(key: tuple[str, str]) -> tuple[int, int]:
    phase, statut = key
    return (
        PHASES.index(phase) if phase in PHASES else len(PHASES),
        PHASE_STATUSES.index(statut) if statut in PHASE_STATUSES else len(PHASE_STATUSES),
    )


async def _published(notifications_url: str, les_communs: LesCommunsProcess) -> list[Any]:
    """Every project once the notifications service has nothing left to send."""
    async with httpx.AsyncClient(timeout=30) as client:
        deadline = time.monotonic() + WAIT_SECONDS
        while time.monotonic() < deadline:
            states = await client.get(
                f"{notifications_url}/v1/les-communs/projects?limit=5000", headers=admin_headers()
            )
            if states.status_code == 200 and all(s["status"] != "pending" for s in states.json()):
                break
            await asyncio.sleep(0.5)
        found = await client.get(
            f"{les_communs.url}/projets",
            headers={"Authorization": f"Bearer {les_communs.api_key}"},
        )
        found.raise_for_status()
        projets: list[Any] = found.json()
        return projets
