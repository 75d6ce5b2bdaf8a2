"""The scenario's set-up steps, through the services' own APIs and commands: the actor
catalogues, the actors' addresses, the members, and the annual cotisation run."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from collections.abc import Mapping, Sequence
from importlib import resources
from typing import Any

import httpx
from rich.console import Console
from rich.progress import Progress

from shared.settings import AuthSettings
from stack.scenario.api import admin_headers, team_headers
from stack.scenario.plan import DEPARTEMENTS


async def load_catalogues(
    matching_url: str, departements: Sequence[str] = DEPARTEMENTS
) -> dict[str, int]:
    """Load the shipped actor catalogues through the matching API, as a team would."""
    loaded: dict[str, int] = {}
    folder = resources.files("services.matching.catalogues")
    async with httpx.AsyncClient(base_url=matching_url, timeout=30) as client:
        for dep in departements:
            body = json.loads(folder.joinpath(f"{dep}.json").read_text(encoding="utf-8"))
            response = await client.put("/v1/actors", json=body, headers=admin_headers())
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
            headers = team_headers(auth, dep)
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
    share: float = 1.0,
    seed: int = 0,
) -> str:
    """``share`` of the communes and EPCI of the départements (drawn from ``seed``, the
    same ones every year) join the offer for these years, with the billing service's own
    command (``env`` added to this environment)."""
    lines = []
    for year in years:
        args = ["enrol", "--year", str(year), "--share", str(share), "--seed", str(seed)]
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
    headers = admin_headers()
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
