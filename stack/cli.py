"""``mg``: drive the local stack.

mg up                 start the services (and a local mailbox), play the scenario, print
                      the summary and the addresses, keep running until Ctrl-C
mg down               stop the services and the mailbox (infra/stack.sh down stops Kafka
                      and PostgreSQL)
mg status             what runs, where
mg scenario           play the scenario again against the running stack, with a new seed
                      (the same --seed plays the same demandes, once per stack)
mg tail TOPIC         print the events of a topic as they arrive
mg token --role ...   mint a bearer token for the APIs
mg cotisations --year Y [-d 49 ...]
                      the annual cotisation run, through the billing API, with its progress
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import secrets
import signal
import time
from collections import Counter
from datetime import UTC, datetime
from typing import Annotated

import typer
from aiokafka import AIOKafkaConsumer
from rich.console import Console

from shared.auth.cli import main as mint_token
from shared.contracts.topics import all_topic_names
from shared.french import euros
from shared.messaging.acls import ADMIN
from shared.messaging.broker import client_options
from shared.settings import KafkaSettings
from stack.harness.detached import (
    LOCAL,
    REPO,
    MailboxProcess,
    ServiceProcess,
    StackProcess,
    all_services,
)
from stack.harness.les_communs_process import LesCommunsProcess, demo_environment
from stack.harness.process import port_in_use
from stack.scenario.plan import DEPARTEMENTS
from stack.scenario.play import AlreadyPlayed, play
from stack.scenario.preparation import cotisation_run
from stack.scenario.summary import RUN_STATUS, report

app = typer.Typer(help="Matière Grise : la pile locale.", no_args_is_help=True)
console = Console()

# Exit status of a command interrupted by Ctrl-C (128 + SIGINT), as shells report it.
INTERRUPTED = 130


def _processes() -> list[StackProcess]:
    demo_environment()
    mailbox, les_communs = MailboxProcess(), LesCommunsProcess()
    return [
        *([mailbox] if mailbox.wanted else []),
        *([les_communs] if les_communs.wanted else []),
        *all_services(),
    ]


def _check_ports() -> None:
    """A port taken by something else than our own process: say which, and how to move."""
    for process in _processes():
        if process.pid() is not None:
            continue
        port = (
            process.port
            if isinstance(process, ServiceProcess | MailboxProcess | LesCommunsProcess)
            else None
        )
        if port is not None and port_in_use(port):
            variable = (
                "MG_NOTIFICATIONS_SMTP_PORT"
                if isinstance(process, MailboxProcess)
                else "MG_NOTIFICATIONS_LES_COMMUNS_URL"
                if isinstance(process, LesCommunsProcess)
                else f"MG_{process.name.upper()}_HTTP_PORT"
            )
            console.print(
                f"[red]Le port {port} ({process.name}) est déjà pris par un autre programme.[/] "
                f"Choisissez-en un autre avec {variable}=…"
            )
            raise typer.Exit(1)


def _start() -> None:
    _check_ports()
    processes = _processes()
    for process in processes:
        pid = process.start()
        console.print(f"[bold]{process.name}[/] démarré (pid {pid}), journal {process.log_file}")
    for process in processes:
        process.wait_ready()
        where = process.url if isinstance(process, ServiceProcess) else ""
        if isinstance(process, MailboxProcess):
            where = f"smtp://127.0.0.1:{process.port}"
        if isinstance(process, LesCommunsProcess):
            where = process.url
        console.print(f"[green]{process.name} prêt[/] sur {where}")


def _addresses() -> None:
    console.rule("Adresses")
    for service in all_services():
        if service.name == "portal":
            console.print(
                f"[bold]Portail[/]        {service.url}  (connexion de démonstration : "
                "agent du département 49, 35 ou 24 ; collectivité : son code INSEE ; "
                "acteur : son identifiant)"
            )
            continue
        console.print(f"[bold]{service.name}[/]")
        console.print(f"  API HTTP      {service.url}/v1")
        console.print(
            f"  OpenAPI       {service.url}/docs  (document : {service.url}/openapi.json)"
        )
        console.print(
            f"  AsyncAPI      {service.url}/asyncapi  (document : {service.url}/asyncapi.json)"
        )
        console.print(f"  Métriques     {service.url}/metrics")
        console.print(f"  Santé         {service.url}/health/ready")
    console.print(f"[bold]Kafka[/]          {KafkaSettings().bootstrap_servers}")
    mailbox = MailboxProcess()
    if mailbox.wanted:
        console.print(
            f"[bold]Courriels[/]      smtp://127.0.0.1:{mailbox.port}, conservés dans "
            f"{mailbox.directory} (format Maildir)"
        )
    les_communs = LesCommunsProcess()
    if les_communs.wanted:
        console.print(
            f"[bold]Les Communs[/]    {les_communs.url}/projets (serveur local de démonstration, "
            f"clé {les_communs.api_key})"
        )
    console.print(f"[bold]Journaux[/]       {LOCAL / 'services'}")
    console.rule("Dans un autre terminal")
    setting = " ".join(
        f"{name}={os.environ[name]}" for name in ("KAFKA_PORT", "PG_PORT") if name in os.environ
    )
    console.print(
        f"cd {REPO} && export MG_LOCAL_DIR={LOCAL} {setting} && source infra/env.sh",
        soft_wrap=True,
    )
    console.print(
        "puis, par exemple : mg status · mg tail requests.request.v1 · "
        "mg token --role departement --departement 49 · "
        f"mg cotisations --year {datetime.now(UTC).year}"
    )


def _watch(processes: list[StackProcess], every: float = 1.0) -> bool:
    """Until every process was stopped by ``mg down`` (their pid files are gone): then
    True. A process that dies on its own is reported once, with its log."""
    dead: Counter[str] = Counter()
    while True:
        time.sleep(every)
        if not any(p.pid_file.exists() for p in processes):
            return True
        for process in processes:
            if process.pid_file.exists() and process.pid() is None:
                dead[process.name] += 1
                # Twice in a row: ``mg down`` removes the pid file right after the process.
                if dead[process.name] == 2:
                    console.print(
                        f"[red]{process.name} s'est arrêté[/] ; journal : {process.log_file}"
                    )


@app.command()
def up(
    demandes: Annotated[int, typer.Option(min=0, help="Demandes of the scenario")] = 300,
    seed: Annotated[
        int, typer.Option(help="Seed of the scenario: the same seed, the same figures")
    ] = 2026,
    wait: Annotated[bool, typer.Option(help="Keep the stack up until Ctrl-C")] = True,
) -> None:
    """Start the services, play the scenario, print the summary and the addresses; then
    keep them up until Ctrl-C, which stops them (exit status 130)."""
    # ``kill`` is an interruption too: the same clean stop as Ctrl-C.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        _start()
        if demandes:
            scenario(demandes, seed)
        _addresses()
        if not wait:
            return
        console.print(
            "[bold green]La pile tourne.[/] Ctrl-C pour tout arrêter "
            "(ou, d'un autre terminal : infra/demo.sh stop)."
        )
        if _watch(_processes()):
            console.print("La pile a été arrêtée depuis un autre terminal.")
            return
    except KeyboardInterrupt:
        console.print("\nInterrompu : arrêt des services.")
    # A second Ctrl-C must not leave half of them running.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    down()
    raise typer.Exit(INTERRUPTED)


@app.command()
def down() -> None:
    """Stop the services, the mailbox and the local Les Communs."""
    for process in reversed([MailboxProcess(), LesCommunsProcess(), *all_services()]):
        stopped = process.stop()
        if stopped or process.name not in ("mailbox", "les-communs"):
            console.print(f"{process.name} : {'arrêté' if stopped else 'déjà arrêté'}")


@app.command()
def status() -> None:
    """Which services run, with their pid and address."""
    for process in _processes():
        pid = process.pid()
        where = process.url if isinstance(process, ServiceProcess) else ""
        if isinstance(process, MailboxProcess):
            where = f"smtp://127.0.0.1:{process.port} → {process.directory}"
        if isinstance(process, LesCommunsProcess):
            where = process.url
        state = f"[green]en marche[/] (pid {pid}) {where}" if pid else "[red]arrêté[/]"
        console.print(f"{process.name:<14} {state}")
    console.print(f"{'kafka':<14} {KafkaSettings().bootstrap_servers} (infra/stack.sh status)")


@app.command()
def scenario(
    demandes: Annotated[int, typer.Option(min=1, help="How many demandes")] = 300,
    seed: Annotated[
        int | None,
        typer.Option(
            help="Seed of the scenario: the same seed, the same demandes and answers, "
            "which a stack plays once (default: a new seed)"
        ),
    ] = None,
) -> None:
    """Play the scenario against the running stack and print its summary."""
    if seed is None:
        seed = secrets.randbelow(1_000_000)
    urls = {s.name: s.url for s in all_services()}
    mailbox = MailboxProcess()
    console.rule(
        f"Scénario : {demandes} demandes, départements {', '.join(DEPARTEMENTS)}, graine {seed}"
    )
    mail_before = mailbox.count() if mailbox.wanted else 0

    async def run() -> None:
        played = await play(urls, KafkaSettings(), demandes=demandes, seed=seed, console=console)
        console.rule("Bilan")
        received = mailbox.count() - mail_before if mailbox.wanted else None
        await report(urls, played, console, mail_received=received)
        console.print(f"Durée du scénario : {played.seconds:.1f} s")

    try:
        asyncio.run(run())
    except AlreadyPlayed as exc:
        console.print(f"[red]{exc}[/]")
        raise typer.Exit(1) from exc


@app.command()
def tail(
    topic: Annotated[str, typer.Argument(help="A topic, e.g. requests.request.v1")],
    from_beginning: Annotated[bool, typer.Option(help="Start at the oldest record")] = False,
) -> None:
    """Print each record of TOPIC: CloudEvents type, id, département, body."""
    if topic not in all_topic_names():
        console.print(f"[red]Sujet inconnu : {topic}.[/] Sujets : {', '.join(all_topic_names())}")
        raise typer.Exit(2)

    async def follow() -> None:
        consumer = AIOKafkaConsumer(
            topic,
            **client_options(KafkaSettings().principal(ADMIN)),
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


# The same command as ``mg-token``, one implementation.
app.command(name="token", help="Mint a bearer token for the APIs (as mg-token does).")(mint_token)


@app.command()
def cotisations(
    year: Annotated[int, typer.Option(min=2000, max=2100, help="Year invoiced")],
    departement: Annotated[
        list[str] | None, typer.Option("-d", "--departement", help="Default: the demo's")
    ] = None,
) -> None:
    """Run the annual cotisation run of the running billing service, with its progress.
    Members already invoiced for the year are skipped: safe to run again."""
    billing = ServiceProcess("billing")
    departements = tuple(departement or DEPARTEMENTS)
    try:
        run = asyncio.run(cotisation_run(billing.url, year, console, departements))
    except Exception as exc:
        console.print(f"[red]Appel de cotisations impossible : {exc}[/]")
        raise typer.Exit(1) from exc
    console.print(
        f"Appel de cotisations {year} ({', '.join(departements)}), "
        f"{RUN_STATUS.get(run['status'], run['status'])} : {run['members']} adhérents, "
        f"{run['issued']} factures émises ({euros(run['amount_incl_tax'])}), "
        f"{run['already_invoiced']} déjà facturés"
    )
    if run.get("error"):
        console.print(f"[red]{run['error']}[/]")


if __name__ == "__main__":
    app()
