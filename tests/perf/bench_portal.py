"""Load run of the portal: server time of its pages under 100 concurrent users.

    .venv/bin/python -m tests.perf.bench_portal [--users 100 --pages 20 --demandes 300]

The services run as real processes (``stack.harness.Stack``, databases and consumer
groups of their own) with the portal as one more process, all on 127.0.0.1. The
département 49's team submits ``--demandes`` demandes of real communes (the matcher
proposes each to the stack's actor), then ``--users`` people sign in through the portal's
own sign-in page (a third département agents, a third collectivités, a third the actor)
and each opens ``--pages`` pages of its role as fast as the portal answers: the board
(filtered by status or commune, paged), a demande's file, the proposals and missions,
its own demandes. Measured per page: the portal's own time (its ``Server-Timing``
header: the page's time in the portal, the services' answers included) and the time the
client waited. Writes ``tests/perf/results/portal.json`` (``--out``)."""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import re
import statistics
import time
from pathlib import Path
from typing import Any

import httpx

from shared.auth.tokens import Role
from shared.refdata import get_territories
from shared.settings import AuthSettings, KafkaSettings
from stack.harness.portal import portal_process
from stack.harness.stack import Stack, StackOptions, bearer_header
from tests.perf.result_file import header, log, write
from tests.support.submissions import demande_body

DEPARTEMENT = "49"
TIMING = re.compile(r"app;dur=([0-9.]+)")
SERVICES_TIMING = re.compile(r"svc;dur=([0-9.]+)")


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(share * len(ordered)))], 1)


async def _seed(stack: Stack, count: int) -> list[tuple[str, str]]:
    """``count`` demandes of communes of 49, submitted by the team: (id, commune)."""
    team = bearer_header(AuthSettings(), Role.DEPARTEMENT, DEPARTEMENT)
    communes = [c.code_insee for c in get_territories().communes_of(DEPARTEMENT)]
    rng = random.Random(2026)
    made: list[tuple[str, str]] = []
    for i in range(count):
        code = rng.choice(communes[:60])
        body = demande_body(requester_code=code, title=f"Projet de charge {i:04d}")
        answer = await stack.client("requests").post("/v1/requests", json=body, headers=team)
        answer.raise_for_status()
        made.append((answer.json()["id"], code))
    return made


async def _sign_in(client: httpx.AsyncClient, role: str, scope: str) -> None:
    page = await client.get("/connexion")
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert csrf is not None
    form = {"csrf": csrf.group(1), "role": role, "departement": DEPARTEMENT, "scope": scope}
    signed = await client.post("/connexion", data=form)
    assert signed.status_code == 303, signed.text


def _pages(role: str, demandes: list[tuple[str, str]], rng: random.Random) -> list[str]:
    request_id, commune = rng.choice(demandes)
    if role == "departement":
        return [
            "/departement",
            f"/departement?page={rng.randint(1, 10)}",
            "/departement?status=proposed",
            f"/departement?commune={commune}",
            f"/departement/demandes/{request_id}",
        ]
    if role == "actor":
        return ["/acteur"]
    return ["/collectivite", f"/collectivite?page={rng.randint(1, 3)}"]


def _kind(path: str) -> str:
    """The page, without its query or its demande's id."""
    bare = path.split("?", maxsplit=1)[0]
    return bare.rsplit("/", 1)[0] + "/{id}" if "/demandes/" in bare else bare


async def _user(
    base: str, index: int, pages: int, demandes: list[tuple[str, str]], actor_id: str
) -> list[dict[str, Any]]:
    role = ("departement", "collectivite", "actor")[index % 3]
    scope = {"departement": "", "actor": actor_id}.get(role, demandes[index][1])
    rng = random.Random(index)
    seen: list[dict[str, Any]] = []
    # Each user a connection of its own, as browsers do.
    async with httpx.AsyncClient(base_url=base, timeout=60.0) as client:
        await _sign_in(client, role, scope)
        for _ in range(pages):
            path = rng.choice(_pages(role, demandes, rng))
            started = time.perf_counter()
            answer = await client.get(path)
            waited = (time.perf_counter() - started) * 1000
            timing = answer.headers.get("server-timing", "")
            match, services = TIMING.search(timing), SERVICES_TIMING.search(timing)
            seen.append(
                {
                    "role": role,
                    "page": _kind(path),
                    "status": answer.status_code,
                    "server_ms": float(match.group(1)) if match else None,
                    "services_ms": float(services.group(1)) if services else None,
                    "client_ms": round(waited, 1),
                }
            )
    return seen


async def run(args: argparse.Namespace) -> dict[str, Any]:
    load_before = os.getloadavg()
    options = StackOptions(departements=(DEPARTEMENT,), log_level="WARNING")
    async with Stack(options, KafkaSettings()) as stack:
        log(f"stack up; seeding {args.demandes} demandes")
        demandes = await _seed(stack, args.demandes)
        # httpx, unlike a browser, sends no Secure cookie over http://127.0.0.1.
        portal = portal_process(stack, MG_PORTAL_COOKIE_SECURE="false")
        await portal.start()
        try:
            await portal.wait_ready()
            await asyncio.sleep(3)  # the last proposals settle
            log(f"{args.users} users, {args.pages} pages each")
            started = time.perf_counter()
            per_user = await asyncio.gather(
                *(
                    _user(portal.base_url, i, args.pages, demandes, stack.actor_ids[DEPARTEMENT])
                    for i in range(args.users)
                )
            )
            elapsed = time.perf_counter() - started
        finally:
            await portal.stop()
    seen = [s for user in per_user for s in user]
    server = [s["server_ms"] for s in seen if s["server_ms"] is not None]
    client = [s["client_ms"] for s in seen]
    waits = [s["services_ms"] for s in seen if s["services_ms"] is not None]
    by_page: dict[str, list[float]] = {}
    for s in seen:
        if s["server_ms"] is not None:
            by_page.setdefault(s["page"], []).append(s["server_ms"])
    return header("tests.perf.bench_portal", args, load_before) | {
        "users": args.users,
        "pages": len(seen),
        "errors": sum(1 for s in seen if s["status"] != 200),
        "seconds": round(elapsed, 1),
        "pages_per_second": round(len(seen) / elapsed, 1),
        "server_ms": {
            "p50": _percentile(server, 0.5),
            "p95": _percentile(server, 0.95),
            "p99": _percentile(server, 0.99),
            "mean": round(statistics.fmean(server), 1),
        },
        "client_ms": {"p50": _percentile(client, 0.5), "p95": _percentile(client, 0.95)},
        # Waiting for the services' answers, summed over a page's calls (which may overlap).
        "services_ms": {"p50": _percentile(waits, 0.5), "p95": _percentile(waits, 0.95)},
        "server_ms_by_page": {
            page: {"count": len(v), "p50": _percentile(v, 0.5), "p95": _percentile(v, 0.95)}
            for page, v in sorted(by_page.items())
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=100)
    parser.add_argument("--pages", type=int, default=20)
    parser.add_argument("--demandes", type=int, default=300)
    parser.add_argument("--out", type=Path, default=Path("tests/perf/results/portal.json"))
    args = parser.parse_args()
    document = asyncio.run(run(args))
    write(args.out, document)
    log(
        f"{document['pages']} pages, {document['errors']} errors, server p95 "
        f"{document['server_ms']['p95']} ms, client p95 {document['client_ms']['p95']} ms"
    )


if __name__ == "__main__":
    main()
