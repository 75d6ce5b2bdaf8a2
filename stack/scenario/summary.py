"""The scenario's summary, read from the services' APIs: demandes by status and
département, unmatched ones and why, euros invoiced, notifications, latencies."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from decimal import Decimal
from enum import StrEnum
from typing import Any

import httpx
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from shared.contracts.vocabulary import PHASE_LABELS, THEME_LABELS, Phase, Theme
from shared.french import euros
from shared.refdata import get_territories
from shared.settings import AuthSettings
from stack.harness.measures import percentile
from stack.scenario.api import admin_headers, all_pages, team_headers
from stack.scenario.conventions import conventions_report
from stack.scenario.facturx import facturx_report
from stack.scenario.members import members_report
from stack.scenario.missions import report_course
from stack.scenario.outcome import Played
from stack.scenario.phases import phases_report
from stack.scenario.plan import DEPARTEMENTS

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
    report_course(outcome.course, console)
    await _unmatched_report(urls["matching"], departements, console)
    await conventions_report(urls["billing"], departements, console)
    await members_report(urls, departements, console)
    await _invoiced_report(urls["billing"], departements, console)
    await facturx_report(urls["billing"], departements, console)
    await phases_report(urls, outcome.next_phases, console)
    await _notifications_report(urls["notifications"], departements, console)
    if mail_received is not None:
        console.print(f"Courriels reçus par la boîte aux lettres locale : {mail_received}")
    console.print(
        "Sujets d'intégration des départements : "
        + ", ".join(f"{t} {n} événements" for t, n in sorted(outcome.integration.items()))
        + f" ; adresses e-mail vues sur les sujets partagés : {outcome.emails_on_shared_topics}"
    )

    def latency(what: str, values: list[float]) -> None:
        p50, p99 = percentile(values, 0.5), percentile(values, 0.99)
        if p50 is None or p99 is None:
            console.print(f"Latence {what} : aucune mesure")
            return
        console.print(
            f"Latence {what} : p50 {p50:.0f} ms, p99 {p99:.0f} ms ({len(values)} mesures)"
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
                    f"/v1/requests?status={status}&limit=1", headers=team_headers(auth, dep)
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
            unmatched += await all_pages(matching, "/v1/unmatched", team_headers(auth, dep))
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


async def invoiced(
    billing_url: str, departements: Sequence[str] = DEPARTEMENTS
) -> dict[tuple[str, str], tuple[int, Decimal]]:
    """Invoices by département and kind (``avoir`` for credit notes), with their total
    including tax."""
    found: dict[tuple[str, str], tuple[int, Decimal]] = {}
    async with httpx.AsyncClient(base_url=billing_url, timeout=30) as client:
        for dep in departements:
            for invoice in await all_pages(
                client, f"/v1/invoices?departement={dep}", admin_headers(), limit=1000
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
            headers = team_headers(auth, dep)
            for delivery in await all_pages(client, "/v1/deliveries", headers):
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
