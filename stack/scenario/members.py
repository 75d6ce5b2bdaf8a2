"""The members in the scenario: a part of each département's collectivités joins its
offer, matching must know them before the first demande, and the summary shows what the
members-only offers did (proposals to members-only actors, non-members refused and told
why, unmatched demandes by reason)."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Mapping, Sequence

import httpx
from rich.console import Console
from rich.table import Table

from shared.refdata import get_territories
from shared.settings import AuthSettings
from stack.scenario.api import all_pages, team_headers

# The part of each département's communes and EPCI that joins, drawn from the seed.
MEMBER_SHARE = 0.6

# Short column heads of the unmatched demandes by reason (docs/events.md has the long ones).
REASON_LABELS = {
    "aucun_acteur": "aucun acteur (thème, phase)",
    "territoire": "territoire",
    "eligibilite": "population, type",
    "adhesion_requise": "adhésion requise",
    "capacite": "capacité",
    "refus": "déclinée, expirée",
}


async def wait_for_members(
    billing_url: str,
    matching_url: str,
    departements: Sequence[str],
    years: Sequence[int],
    console: Console,
    timeout: float = 300.0,
) -> int:
    """Until matching's projection holds every adhésion billing registered for ``years``:
    membership decides routing, so the demandes wait for it (same seed, same figures)."""
    auth = AuthSettings()
    deadline = time.monotonic() + timeout
    async with (
        httpx.AsyncClient(base_url=billing_url, timeout=30) as billing,
        httpx.AsyncClient(base_url=matching_url, timeout=30) as matching,
    ):
        wanted: dict[tuple[str, int], int] = {}
        for dep in departements:
            for year in years:
                response = await billing.get(
                    f"/v1/adhesions?departement={dep}&year={year}&limit=1",
                    headers=team_headers(auth, dep),
                )
                response.raise_for_status()
                wanted[(dep, year)] = int(response.json()["total"])
        with console.status("La mise en relation reçoit les adhésions…"):
            while True:
                known = 0
                for (dep, year), total in wanted.items():
                    response = await matching.get(
                        f"/v1/members?departement={dep}&year={year}",
                        headers=team_headers(auth, dep),
                    )
                    response.raise_for_status()
                    known += min(int(response.json()["adhesions"]), total)
                if known >= sum(wanted.values()):
                    return known
                if time.monotonic() > deadline:
                    raise TimeoutError(
                        f"matching knows {known} of {sum(wanted.values())} adhésions"
                    )
                await asyncio.sleep(0.5)


async def members_report(
    urls: Mapping[str, str], departements: Sequence[str], console: Console
) -> None:
    """Per département: proposals to members-only actors, non-members refused for want of
    an adhésion (and the offers emailed to them), unmatched demandes by reason."""
    auth = AuthSettings()
    table = Table(
        title="Acteurs réservés aux adhérents : propositions ; demandes sans acteur, par motif "
        "(« adhésion requise » : non-adhérents refusés, à qui l'offre d'adhésion est envoyée)"
    )
    table.add_column("Département")
    table.add_column("acteurs réservés", justify="left")
    table.add_column("propositions", justify="right")
    table.add_column("offres d'adhésion", justify="right")
    for label in REASON_LABELS.values():
        table.add_column(label, justify="right")
    example: str | None = None
    async with (
        httpx.AsyncClient(base_url=urls["matching"], timeout=30) as matching,
        httpx.AsyncClient(base_url=urls["notifications"], timeout=30) as notifications,
    ):
        for dep in departements:
            headers = team_headers(auth, dep)
            actors = (await matching.get(f"/v1/actors?departement={dep}", headers=headers)).json()
            reserved = sorted(a["id"] for a in actors if a["eligibility"]["members_only"])
            proposed = Counter(
                a["actor_id"]
                for a in await all_pages(matching, f"/v1/assignments?departement={dep}", headers)
            )
            unmatched = await all_pages(matching, "/v1/unmatched", headers)
            reasons = Counter(item.get("reason") or "?" for item in unmatched)
            offers = await all_pages(notifications, "/v1/deliveries?kind=offre_adhesion", headers)
            found = get_territories().departement(dep)
            table.add_row(
                f"{dep} {found.nom}" if found else dep,
                ", ".join(reserved) or "—",
                " + ".join(str(proposed[a]) for a in reserved) or "—",
                str(len(offers)),
                *(str(reasons[r]) for r in REASON_LABELS),
            )
            refused = [i for i in unmatched if i.get("reason") == "adhesion_requise"]
            if example is None and refused:
                item = refused[0]
                example = f"{item['departement']} {item['requester_code']} — {item['summary']}"
    console.print(table)
    if example:
        console.print(f"  Refus faute d'adhésion, par exemple : {example[:200]}")
