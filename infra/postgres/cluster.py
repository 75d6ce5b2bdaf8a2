"""The data folder: initdb once, and the lock files a crashed server leaves behind."""

from __future__ import annotations

import re
import shutil
import subprocess
import time
from pathlib import Path

from os_identity import prepare_folders
from processes import is_postgres_process, orphan_backends, pid_alive, run_pg
from settings import PG_SUPERUSER, PgError, RunAs, Settings, say, warn


def binaries_major_version(settings: Settings) -> str:
    out = subprocess.run(
        [str(settings.binary("postgres")), "--version"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    match = re.search(r"(\d+)(?:\.\d+)?", out)
    if match is None:
        raise PgError(f"cannot parse the PostgreSQL version from {out!r}")
    return match.group(1)


def ensure_initdb(settings: Settings, run_as: RunAs | None) -> None:
    """initdb the data folder once (no-op when PG_VERSION is there)."""
    pg_version_file = settings.data_dir / "PG_VERSION"
    major = binaries_major_version(settings)
    if pg_version_file.exists():
        data_major = pg_version_file.read_text().strip()
        if data_major != major:
            raise PgError(
                f"{settings.data_dir} was initialised by PostgreSQL {data_major}, but the "
                f"binaries are PostgreSQL {major}; delete it with `postgres.py reset`"
            )
        return
    if any(settings.data_dir.iterdir()):
        warn(f"{settings.data_dir} has no PG_VERSION (interrupted initdb?); emptying it")
        shutil.rmtree(settings.data_dir)
        prepare_folders(settings, run_as)
    say(f"initialising a PostgreSQL {major} cluster in {settings.data_dir}")
    result = run_pg(
        settings,
        run_as,
        [
            str(settings.binary("initdb")),
            "-D",
            str(settings.data_dir),
            "--auth=trust",
            "-U",
            PG_SUPERUSER,
            "--encoding=UTF8",
            "--locale=C",
            "--no-instructions",
        ],
        timeout=300,
    )
    if result.returncode != 0:
        raise PgError(f"initdb failed:\n{result.stdout}{result.stderr}")


def lock_file_pid(path: Path) -> int | None:
    try:
        first = path.read_text().splitlines()[0].strip()
    except (OSError, IndexError):
        return None
    return int(first) if first.isdigit() else None


def clear_stale_locks(settings: Settings) -> None:
    """Prepare a restart after a crash (the server is known not to be running).

    PostgreSQL removes a stale postmaster.pid (and socket lock) itself when the pid it
    names is gone, but refuses to start when kill(pid, 0) still succeeds: the pid is a
    not-yet-reaped zombie, or was reused by an unrelated process. Such lock files are
    removed here, but only once no backend of the old server is left in the data folder.
    """
    pid_file = settings.data_dir / "postmaster.pid"
    socket_lock = settings.socket_dir / f".s.PGSQL.{settings.port}.lock"
    stale_pid = lock_file_pid(pid_file)
    if stale_pid is None:
        return
    say(f"stale postmaster.pid (pid {stale_pid} is not running): recovering from a crash")
    deadline = time.monotonic() + 15
    orphans = orphan_backends(settings)
    while orphans and time.monotonic() < deadline:
        time.sleep(0.2)
        orphans = orphan_backends(settings)
    if orphans:
        raise PgError(
            f"processes of the previous server are still running in {settings.data_dir}: "
            f"{orphans}; stop them (kill {' '.join(map(str, orphans))}) and start again"
        )
    for lock in (pid_file, socket_lock):
        pid = lock_file_pid(lock)
        if pid is not None and pid_alive(pid) and not is_postgres_process(pid):
            lock.unlink(missing_ok=True)
            if lock == socket_lock:
                (settings.socket_dir / f".s.PGSQL.{settings.port}").unlink(missing_ok=True)
            say(f"removed {lock.name} (pid {pid} is a zombie or an unrelated process)")
