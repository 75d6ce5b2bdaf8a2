"""The commands that start, stop, inspect, kill and reset the server."""

from __future__ import annotations

import os
import shlex
import shutil
import signal
import subprocess
import time

from cluster import clear_stale_locks, ensure_initdb
from os_identity import ensure_run_as, prepare_folders
from processes import (
    locked,
    log_tail,
    orphan_backends,
    port_in_use,
    run_pg,
    running_server,
    wait_gone,
)
from settings import PgError, RunAs, Settings, say, warn

START_TIMEOUT_S = 60
STOP_TIMEOUT_S = 30
# sun_path is 108 bytes on Linux (104 on macOS), including the terminating NUL.
MAX_SOCKET_PATH = 103


EXIT_STOPPED = 3


def cmd_start(settings: Settings) -> int:
    with locked(settings):
        running = running_server(settings)
        if running is not None:
            pid, port = running
            say(f"already running (pid {pid}, 127.0.0.1:{port})")
            if port is not None and port != settings.port:
                warn(f"the running server listens on {port}, not PG_PORT={settings.port}")
            return 0
        if port_in_use(settings.port):
            raise PgError(
                f"port 127.0.0.1:{settings.port} is already in use by another process "
                "(set PG_PORT, or stop it)"
            )
        run_as = ensure_run_as()
        prepare_folders(settings, run_as)
        ensure_initdb(settings, run_as)

        clear_stale_locks(settings)

        socket_opt = shlex.quote(str(settings.socket_dir))
        if len(str(settings.socket_dir / f".s.PGSQL.{settings.port}")) > MAX_SOCKET_PATH:
            warn(f"{settings.socket_dir} is too long for a Unix socket; TCP only")
            socket_opt = "''"
        server_options = (
            f"-h 127.0.0.1 -p {settings.port} -k {socket_opt} -c max_connections=300 -c fsync=on"
        )
        started = time.monotonic()
        try:
            result = run_pg(
                settings,
                run_as,
                [
                    str(settings.binary("pg_ctl")),
                    "start",
                    "-w",
                    "-t",
                    str(START_TIMEOUT_S),
                    "-D",
                    str(settings.data_dir),
                    "-l",
                    str(settings.log_file),
                    "-o",
                    server_options,
                ],
                timeout=START_TIMEOUT_S + 15,
            )
        except subprocess.TimeoutExpired as exc:
            raise PgError(
                f"pg_ctl start hung for {exc.timeout}s; server log tail:\n{log_tail(settings)}"
            ) from exc
        if result.returncode != 0:
            raise PgError(
                f"pg_ctl start failed:\n{result.stdout}{result.stderr}"
                f"--- {settings.log_file} (tail) ---\n{log_tail(settings)}"
            )
        running = running_server(settings)
        if running is None:
            raise PgError(f"server exited right after start; log tail:\n{log_tail(settings)}")
        ready = run_pg(
            settings,
            None,
            [
                str(settings.binary("pg_isready")),
                "-q",
                *settings.client_options(),
                "-t",
                "10",
            ],
            timeout=15,
        )
        if ready.returncode != 0:
            raise PgError(f"server not accepting TCP connections on 127.0.0.1:{settings.port}")
        say(
            f"running (pid {running[0]}, 127.0.0.1:{settings.port}), ready in "
            f"{time.monotonic() - started:.1f}s; log {settings.log_file}"
        )
        return 0


def pg_ctl_stop(
    settings: Settings, run_as: RunAs | None, mode: str
) -> subprocess.CompletedProcess[str]:
    """``pg_ctl stop -m MODE``, waiting up to STOP_TIMEOUT_S for the server to exit."""
    return run_pg(
        settings,
        run_as,
        [
            str(settings.binary("pg_ctl")),
            "stop",
            "-D",
            str(settings.data_dir),
            "-m",
            mode,
            "-w",
            "-t",
            str(STOP_TIMEOUT_S),
        ],
        timeout=STOP_TIMEOUT_S + 15,
    )


def stop_server(settings: Settings) -> None:
    running = running_server(settings)
    if running is None:
        say("not running")
        return
    pid = running[0]
    run_as = ensure_run_as()
    say(f"stopping (pid {pid}, fast shutdown) ...")
    started = time.monotonic()
    result = pg_ctl_stop(settings, run_as, "fast")
    if result.returncode != 0 and running_server(settings) is not None:
        warn(f"fast shutdown did not finish in {STOP_TIMEOUT_S}s; using immediate shutdown")
        pg_ctl_stop(settings, run_as, "immediate")
        if running_server(settings) is not None:
            raise PgError(f"could not stop the server (pid {pid}): {result.stderr.strip()}")
    say(f"stopped in {time.monotonic() - started:.1f}s")


def cmd_stop(settings: Settings) -> int:
    with locked(settings):
        stop_server(settings)
    return 0


def cmd_status(settings: Settings) -> int:
    running = running_server(settings)
    if running is None:
        print("postgres: stopped")
        return EXIT_STOPPED
    pid, port = running
    print(f"postgres: running (pid {pid}, 127.0.0.1:{port}, data {settings.data_dir})")
    if port is not None and port != settings.port:
        warn(f"the running server listens on {port}, not PG_PORT={settings.port}")
    return 0


def cmd_kill9(settings: Settings) -> int:
    with locked(settings):
        running = running_server(settings)
        if running is None:
            say("not running")
            return 0
        pid = running[0]
        os.kill(pid, signal.SIGKILL)
        wait_gone([pid], 10)
        # Backends notice the postmaster's death and exit by themselves; wait for that so
        # that the next start does not find the old shared memory still attached.
        left = wait_gone(orphan_backends(settings), 15)
        say(f"killed postmaster (pid {pid}) with SIGKILL (postmaster.pid left, as after a crash)")
        if left:
            warn(f"{len(left)} child process(es) still alive: {left}")
    return 0


def cmd_reset(settings: Settings) -> int:
    with locked(settings):
        stop_server(settings)
        if settings.data_dir.exists():
            shutil.rmtree(settings.data_dir)
        if settings.socket_dir.exists():
            shutil.rmtree(settings.socket_dir)
        say(f"deleted {settings.data_dir}")
    return 0
