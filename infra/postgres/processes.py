"""Running PostgreSQL binaries, and finding out which of its processes are alive."""

from __future__ import annotations

import contextlib
import fcntl
import os
import socket
import subprocess
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

from settings import RunAs, Settings


def run_pg(
    settings: Settings,
    run_as: RunAs | None,
    args: Sequence[str],
    *,
    timeout: float | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run a PostgreSQL binary as the server's user, capturing its output."""
    # None is subprocess's default for user, group and extra_groups: the current identity.
    return subprocess.run(
        list(args),
        capture_output=True,
        text=True,
        check=False,
        timeout=timeout,
        cwd=settings.home,
        stdin=subprocess.DEVNULL,
        user=None if run_as is None else run_as.uid,
        group=None if run_as is None else run_as.gid,
        extra_groups=None if run_as is None else [],
    )


def read_postmaster_pid(settings: Settings) -> tuple[int, int | None] | None:
    """(pid, port) from data/postmaster.pid, or None if absent or unreadable."""
    pid_file = settings.data_dir / "postmaster.pid"
    try:
        lines = pid_file.read_text().splitlines()
    except (FileNotFoundError, PermissionError):
        return None
    if not lines or not lines[0].strip().isdigit():
        return None
    port = int(lines[3]) if len(lines) > 3 and lines[3].strip().isdigit() else None
    return int(lines[0]), port


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def proc_state(pid: int) -> str | None:
    """The /proc state letter of pid (``Z`` for a zombie), or None if unknown."""
    try:
        stat_line = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # Format: pid (comm) state ppid ...; comm may contain spaces and parentheses.
    fields = stat_line.rsplit(")", 1)[-1].split()
    return fields[0] if fields else None


def process_alive(pid: int) -> bool:
    """True if pid exists and is not a zombie."""
    return pid_alive(pid) and proc_state(pid) != "Z"


def is_postgres_process(pid: int) -> bool:
    """True if pid is a live ``postgres`` executable.

    Guards against pid reuse, and treats zombies as dead: a SIGKILLed postmaster stays a
    zombie until its parent (often PID 1 in containers) reaps it, and kill(pid, 0) still
    succeeds on a zombie.
    """
    if not process_alive(pid):
        return False
    try:
        argv0 = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0", 1)[0]
    except OSError:
        return True  # no /proc (not Linux): trust kill(0)
    return Path(os.fsdecode(argv0)).name == "postgres"


def orphan_backends(settings: Settings) -> list[int]:
    """Live processes still working in the data folder (backends of a killed postmaster).

    Every PostgreSQL process has the data folder as its working directory.
    """
    found: list[int] = []
    proc = Path("/proc")
    if not proc.is_dir():
        return found
    data_dir = settings.data_dir.resolve()
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cwd = Path(os.readlink(entry / "cwd"))
        except OSError:
            continue
        if cwd == data_dir and process_alive(int(entry.name)):
            found.append(int(entry.name))
    return found


def running_server(settings: Settings) -> tuple[int, int | None] | None:
    """(postmaster pid, port) if our server is running, else None."""
    info = read_postmaster_pid(settings)
    if info is None or not is_postgres_process(info[0]):
        return None
    return info


def port_in_use(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(1.0)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def wait_gone(pids: Sequence[int], timeout: float) -> list[int]:
    """Wait until the pids have exited; returns those still alive after timeout."""
    deadline = time.monotonic() + timeout
    alive = list(pids)
    while alive:
        alive = [pid for pid in alive if process_alive(pid)]
        if not alive or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    return alive


def log_tail(settings: Settings, lines: int = 30) -> str:
    try:
        content = settings.log_file.read_text(errors="replace").splitlines()
    except OSError:
        return ""
    return "\n".join(content[-lines:])


@contextlib.contextmanager
def locked(settings: Settings) -> Iterator[None]:
    """Serialise start/stop/reset/kill9 between concurrent invocations."""
    settings.home.mkdir(parents=True, exist_ok=True)
    with settings.lock_file.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
