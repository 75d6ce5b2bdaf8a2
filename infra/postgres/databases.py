"""The commands about databases: create the missing ones, print their URL."""

from __future__ import annotations

import subprocess
from collections.abc import Sequence

from processes import running_server
from settings import PgError, Settings, say


def cmd_createdb(settings: Settings, names: Sequence[str]) -> int:
    running = running_server(settings)
    if running is None:
        raise PgError("server is not running; run `postgres.py start` first")
    for name in names:
        if not name or len(name.encode()) > 63 or "\0" in name:
            raise PgError(f"invalid database name {name!r}")
    psql_base = [
        str(settings.binary("psql")),
        "-X",
        "-q",
        "-v",
        "ON_ERROR_STOP=1",
        *settings.client_options(),
        "-d",
        "postgres",
    ]
    # psql quotes the values itself: :'name' as a literal, format(%I) as an identifier.
    script = (
        "SELECT NOT EXISTS (SELECT FROM pg_database WHERE datname = :'name') AS missing \\gset\n"
        "\\if :missing\n"
        "SELECT format('CREATE DATABASE %I', :'name') \\gexec\n"
        "\\echo created\n"
        "\\else\n"
        "\\echo exists\n"
        "\\endif\n"
    )
    for name in names:
        result = subprocess.run(
            [*psql_base, "-v", f"name={name}"],
            input=script,
            capture_output=True,
            text=True,
            check=False,
            timeout=60,
        )
        if result.returncode != 0:
            raise PgError(f"creating database {name!r} failed: {result.stderr.strip()}")
        if result.stdout.strip() == "created":
            say(f"created database {name}")
        else:
            say(f"database {name} already exists")
    return 0


def cmd_url(settings: Settings, name: str) -> int:
    print(settings.url(name))
    return 0
