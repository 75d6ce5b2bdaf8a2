"""``mg``: drive the local stack.

mg up          start the services, play the scenario, keep running until Ctrl-C
mg down        stop the services (infra/stack.sh down stops Kafka and PostgreSQL)
mg status      what runs, where
mg scenario    play the scenario again against the running stack
mg tail TOPIC  print the events of a topic as they arrive
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import time
from datetime import UTC, datetime
from typing import Annotated

import typer
from aiokafka import AIOKafkaConsumer
from rich.console import Console

from services.billing.adapters.documents import euros
from shared.settings import KafkaSettings
from stack.processes import all_services
from stack.scenario import (
    cotisation_run,
    enrol_members,
    invoiced,
    load_catalogues,
    report,
    run_scenario,
)

app = typer.Typer(help="Matière Grise: the local stack.", no_args_is_help=True)
console = Console()


def _start_services() -> None:
    for service in all_services():
        pid = service.start()
        console.print(f"[bold]{service.name}[/] démarré (pid {pid}), journal {service.log_file}")
    for service in all_services():
        service.wait_ready()
        console.print(f"[green]{service.name} prêt[/] sur {service.url}")


def _addresses() -> None:
    console.rule("Adresses")
    for service in all_services():
        console.print(
            f"{service.name:<14} API {service.url}/v1  ·  OpenAPI {service.url}/docs  ·  "
            f"métriques {service.url}/metrics"
        )
    console.print(f"Kafka          {KafkaSettings().bootstrap_servers}")


@app.command()
def up(
    demandes: Annotated[int, typer.Option(min=0, help="Demandes of the scenario")] = 300,
    wait: Annotated[bool, typer.Option(help="Keep the stack up until Ctrl-C")] = True,
) -> None:
    """Start the services, play the scenario, print the summary and the addresses."""
    _start_services()
    if demandes:
        scenario(demandes)
    _addresses()
    if wait:
        console.print("La pile tourne ; Ctrl-C pour l'arrêter (ou `infra/demo.sh stop`).")
        stop = False

        def interrupt(*_: object) -> None:
            nonlocal stop
            stop = True

        signal.signal(signal.SIGINT, interrupt)
        signal.signal(signal.SIGTERM, interrupt)
        while not stop:
            time.sleep(0.5)
        down()


@app.command()
def down() -> None:
    """Stop the service processes."""
    for service in all_services():
        stopped = service.stop()
        console.print(f"{service.name}: {'arrêté' if stopped else 'déjà arrêté'}")


@app.command()
def status() -> None:
    """Which services run, with their pid and address."""
    for service in all_services():
        pid = service.pid()
        state = f"[green]en marche[/] (pid {pid}) {service.url}" if pid else "[red]arrêté[/]"
        console.print(f"{service.name:<14} {state}")


@app.command()
def scenario(
    demandes: Annotated[int, typer.Option(min=1, help="How many demandes")] = 300,
    seed: Annotated[int, typer.Option(help="Seed of the scenario")] = 2026,
) -> None:
    """Play the scenario against the running stack and print its summary."""
    urls = {s.name: s.url for s in all_services()}
    console.rule(f"Scénario : {demandes} demandes")
    started = time.perf_counter()

    this_year = datetime.now(UTC).year

    async def play() -> None:
        loaded = await load_catalogues(urls["matching"])
        console.print(f"Catalogues d'acteurs chargés : {loaded}")
        console.print(f"Adhésions : {enrol_members((this_year, this_year + 1))}")
        outcome = await run_scenario(
            urls["requests"],
            urls["matching"],
            KafkaSettings(),
            demandes=demandes,
            seed=seed,
            console=console,
        )
        await report(urls["requests"], urls["matching"], outcome, console)
        run = await cotisation_run(urls["billing"], this_year + 1, console)
        console.print(
            f"Appel de cotisations {this_year + 1} : {run['issued']} factures, "
            f"{euros(run['amount_incl_tax'])} ({run['status']})"
        )
        # Billing invoices completed missions from their events: let it catch up.
        completed = outcome.answers["mission terminée"]
        for _ in range(100):
            totals = await invoiced(urls["billing"])
            if totals.get("mission", (0, 0))[0] >= completed:
                break
            await asyncio.sleep(0.3)
        for kind, (count, total) in sorted(totals.items()):
            console.print(f"Facturé — {kind} : {count} documents, {euros(total)}")

    asyncio.run(play())
    console.print(f"Durée du scénario : {time.perf_counter() - started:.1f} s")


@app.command()
def tail(
    topic: str,
    from_beginning: Annotated[bool, typer.Option(help="Start at the oldest record")] = False,
) -> None:
    """Print each record of TOPIC: CloudEvents type, id, département, body."""

    async def follow() -> None:
        consumer = AIOKafkaConsumer(
            topic,
            bootstrap_servers=KafkaSettings().bootstrap_servers,
            auto_offset_reset="earliest" if from_beginning else "latest",
            enable_auto_commit=False,
        )
        await consumer.start()
        try:
            async for record in consumer:
                headers = {k: v.decode(errors="replace") for k, v in record.headers}
                console.print(
                    f"[bold]{headers.get('ce_type', '?')}[/] id={headers.get('ce_id')} "
                    f"dep={headers.get('departement')} p{record.partition}@{record.offset}"
                )
                with contextlib.suppress(ValueError):
                    console.print_json(json.dumps(json.loads(record.value or b"")))
        finally:
            await consumer.stop()

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(follow())


if __name__ == "__main__":
    app()
