"""The conventions in the scenario: once the actors answered, each mission led by an
actor has its convention, which the actor sends and the collectivité signs (most),
refuses (a few) or leaves to expire (a few); one signed convention gets an avenant.
Expiry is played by the billing service's own command with a clock three months and a
bit ahead, so that matching releases those missions before the others are completed.

The choices come from the seed, as the rest of the plan."""

from __future__ import annotations

import asyncio
import hashlib
import os
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from rich.console import Console

from shared.auth.tokens import Role, mint
from shared.settings import AuthSettings
from stack.scenario.api import actor_headers, all_pages, team_headers
from stack.scenario.facturx import stand_in_siret
from stack.scenario.outcome import Mission

REFUSE_PERCENT, EXPIRE_PERCENT = 8, 8
# Beyond the default validity (three months): the expiry command's clock.
EXPIRY_CLOCK = timedelta(days=100)
CONVENTION_WAIT_SECONDS = 30.0


@dataclass
class ConventionTally:
    """What the scenario did with the conventions, and the missions no longer open."""

    counts: Counter[str] = field(default_factory=Counter)
    released: set[str] = field(default_factory=set)


def fate(seed: int, request_id: str) -> str:
    """signée, refusée or expirée, from the seed."""
    roll = int(hashlib.sha256(f"{seed}:{request_id}:convention".encode()).hexdigest(), 16) % 100
    if roll < REFUSE_PERCENT:
        return "refusée"
    if roll < REFUSE_PERCENT + EXPIRE_PERCENT:
        return "expirée"
    return "signée"


def _collectivite_headers(auth: AuthSettings, departement: str, code: str) -> dict[str, str]:
    signer = mint(
        auth, role=Role.COLLECTIVITE, subject=f"maire-{code}", departement=departement, scope=code
    )
    return {"Authorization": f"Bearer {signer}"}


async def _convention(
    billing: httpx.AsyncClient, auth: AuthSettings, mission: Mission
) -> dict[str, Any]:
    dep = mission.demande.departement
    deadline = time.monotonic() + CONVENTION_WAIT_SECONDS
    while True:
        response = await billing.get(
            f"/v1/conventions?demande_id={mission.demande.request_id}",
            headers=team_headers(auth, dep),
        )
        response.raise_for_status()
        if found := response.json():
            return dict(found[0])
        if time.monotonic() > deadline:
            raise TimeoutError(f"pas de convention pour la demande {mission.demande.request_id}")
        await asyncio.sleep(0.1)


async def settle_conventions(
    billing_url: str,
    missions: Sequence[Mission],
    leads: set[str],
    seed: int,
    console: Console,
    billing_env: Mapping[str, str] | None = None,
) -> ConventionTally:
    """Send, sign, refuse, amend and let expire the conventions of the lead missions."""
    async with httpx.AsyncClient(base_url=billing_url, timeout=30) as billing:
        tally = await settle_with(billing, missions, leads, seed)
    if tally.released:
        tally.counts["expirées"] = expire_conventions(billing_env)
    console.print(
        "Conventions : "
        + ", ".join(f"{tally.counts[k]} {k}" for k in ("préparées", "signées", "refusées"))
        + f", {tally.counts['expirées']} expirées, {tally.counts['avenants']} avenant(s)"
    )
    return tally


async def settle_with(
    billing: httpx.AsyncClient, missions: Sequence[Mission], leads: set[str], seed: int
) -> ConventionTally:
    """The HTTP part of :func:`settle_conventions`: all but the expiry command."""
    auth, tally = AuthSettings(), ConventionTally()
    amended = False
    for n, mission in enumerate(m for m in missions if m.assignment_id in leads):
        convention = await _convention(billing, auth, mission)
        if convention["assignment_id"] != mission.assignment_id:
            # Prepared from another acceptance of the demande (another matching service
            # on a shared broker): not this actor's to send.
            tally.counts["d'une autre mission"] += 1
            continue
        tally.counts["préparées"] += 1
        dep, url = mission.demande.departement, f"/v1/conventions/{convention['id']}"
        actor = actor_headers(auth, dep, mission.actor_id)
        (await billing.post(f"{url}/send", headers=actor)).raise_for_status()
        signer = _collectivite_headers(auth, dep, convention["collectivite_code"])
        match fate(seed, mission.demande.request_id):
            case "refusée":
                refusal = {"reason": "Crédits non inscrits au budget de l'année."}
                response = await billing.post(f"{url}/refuse", json=refusal, headers=signer)
                response.raise_for_status()
                tally.counts["refusées"] += 1
            case "expirée":
                tally.released.add(mission.assignment_id)
            case _:
                signature = {
                    "engagement_number": f"EJ-{convention['year']}-{n + 1:06d}",
                    # The invoicing establishment: it becomes the buyer account (ADR 0017).
                    "siret": stand_in_siret(convention["collectivite_code"]),
                }
                if convention["collectivite_kind"] == "epci":
                    signature["service_code"] = "SERVICE-TECH"
                response = await billing.post(f"{url}/sign", json=signature, headers=signer)
                response.raise_for_status()
                tally.counts["signées"] += 1
                if not amended:
                    await _amend(billing, url, actor, signer, signature)
                    tally.counts["avenants"] += 1
                    amended = True
    return tally


async def _amend(
    billing: httpx.AsyncClient,
    url: str,
    actor: dict[str, str],
    signer: dict[str, str],
    signature: dict[str, str],
) -> None:
    """A meeting more than planned: the actor's avenant, sent and signed."""
    body = {"price_delta": "350.00", "reason": "Réunion publique supplémentaire"}
    avenant = await billing.post(f"{url}/amend", json=body, headers=actor)
    avenant.raise_for_status()
    again = f"/v1/conventions/{avenant.json()['id']}"
    (await billing.post(f"{again}/send", headers=actor)).raise_for_status()
    (await billing.post(f"{again}/sign", json=signature, headers=signer)).raise_for_status()


def expire_conventions(env: Mapping[str, str] | None) -> int:
    """The billing service's own expiry command, its clock past the validity."""
    at = (datetime.now(UTC) + EXPIRY_CLOCK).isoformat()
    done = subprocess.run(
        [sys.executable, "-m", "services.billing.entrypoints.convention_cli", "expire", "--at", at],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, **(env or {})},
    )
    # Its last line says how many ("4 convention(s) expirée(s) au …"), after its logs.
    return int(done.stdout.strip().splitlines()[-1].split()[0])


STATUS_LABELS = {
    "brouillon": "en brouillon",
    "envoyee": "envoyées",
    "signee": "signées",
    "refusee": "refusées",
    "expiree": "expirées",
}


async def conventions_report(
    billing_url: str, departements: Sequence[str], console: Console
) -> None:
    """Conventions by state and avenants, and the completed missions left unbilled for
    want of a signature: read from the billing API, as the teams see them."""
    async with httpx.AsyncClient(base_url=billing_url, timeout=30) as billing:
        console.print(await conventions_line(billing, departements))


async def conventions_line(billing: httpx.AsyncClient, departements: Sequence[str]) -> str:
    """The summary's line of the conventions."""
    auth = AuthSettings()
    states: Counter[str] = Counter()
    avenants = unbilled = 0
    for dep in departements:
        headers = team_headers(auth, dep)
        for convention in await all_pages(billing, "/v1/conventions", headers):
            if convention["version"]:
                avenants += 1
            else:
                states[convention["status"]] += 1
        unbilled += len(await all_pages(billing, "/v1/conventions/unbilled-completions", headers))
    return (
        f"Conventions : {sum(states.values())} préparées ; "
        + ", ".join(f"{states[s]} {label}" for s, label in STATUS_LABELS.items() if states[s])
        + f" ; {avenants} avenant(s) ; missions terminées sans convention signée (non "
        f"facturées) : {unbilled}"
    )
