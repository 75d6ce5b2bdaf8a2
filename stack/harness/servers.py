"""A Kafka broker and a PostgreSQL server of one's own, for drills that kill them.

    async with OwnServers() as servers:
        Stack(StackOptions(admin_dsn=servers.admin_dsn, ...), servers.kafka)
        await servers.kill9("kafka")
        await servers.start("kafka")

Both are run by the repository's own scripts (``infra/kafka/kafka.sh``,
``infra/postgres/postgres.py``), on free ports (``KAFKA_PORT``, ``KAFKA_CONTROLLER_PORT``,
``PG_PORT``) with their state in a folder of their own (``MG_LOCAL_DIR`` =
``.local/drill/<id>``): killing them touches neither the workstation's servers nor the
suite's. The broker uses the Kafka jars already fetched for the caller's state folder
(``KAFKA_LIBS``); the declared topics are created with ``mg-topics create``.

On exit, even after a failure, both servers are stopped, their logs copied to
``keep_logs`` and the folder deleted. A folder whose owner process is gone (a driver
killed before its cleanup) is cleaned the same way by the next :class:`OwnServers`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import shutil
import subprocess
import time
import uuid
from pathlib import Path
from typing import Any, Self

import psutil  # type: ignore[import-untyped]

from shared.settings import KafkaSettings
from stack.harness.process import ROOT, free_port, python

DRILL_HOME = ROOT / ".local" / "drill"
KAFKA_SH = ROOT / "infra" / "kafka" / "kafka.sh"
POSTGRES_PY = ROOT / "infra" / "postgres" / "postgres.py"
SERVERS = ("kafka", "postgres")
OWNER_FILE = "owner.json"
LOG_FILES = ("kafka/kafka.log", "kafka/kafka.out", "postgres/postgres.log")
READY_IN = re.compile(r"ready in (\d+(?:\.\d+)?)s")


def caller_kafka_libs() -> Path:
    """The jars of the caller's state folder (``MG_LOCAL_DIR``: ``.local/test`` in CI)."""
    if os.environ.get("KAFKA_LIBS"):
        return Path(os.environ["KAFKA_LIBS"])
    local = Path(os.environ.get("MG_LOCAL_DIR") or ROOT / ".local")
    return local.absolute() / "kafka" / "libs"


def distinct_free_ports(count: int) -> list[int]:
    ports: list[int] = []
    while len(ports) < count:
        port = free_port()
        if port not in ports:
            ports.append(port)
    return ports


class ServerCommandFailed(RuntimeError):
    """``kafka.sh`` or ``postgres.py`` exited with an error; its output is the message."""


def _command(server: str, action: str) -> list[str]:
    if server == "kafka":
        return ["bash", str(KAFKA_SH), action]
    if server == "postgres":
        return [python(), str(POSTGRES_PY), action]
    raise ValueError(f"unknown server {server!r}")


def run_sync(server: str, action: str, env: dict[str, str], timeout: float = 180.0) -> str:
    """Run ``kafka.sh ACTION`` or ``postgres.py ACTION`` in ``env``; its output."""
    done = subprocess.run(
        _command(server, action),
        cwd=ROOT,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    out = done.stdout + done.stderr
    if done.returncode != 0:
        raise ServerCommandFailed(f"{server} {action} failed ({done.returncode}): {out[-2000:]}")
    return out


def _owner_alive(owner: dict[str, Any]) -> bool:
    try:
        process = psutil.Process(int(owner["pid"]))
        return bool(abs(process.create_time() - float(owner["created"])) < 1.0)
    except (psutil.Error, KeyError, ValueError, TypeError):
        return False


def _teardown(home: Path, env: dict[str, str], keep_logs: Path | None) -> list[str]:
    """Stop both servers of ``home`` (SIGKILL if a stop fails), keep their logs, delete it."""
    # Always this folder's servers, whatever the caller's environment names: an inherited
    # MG_LOCAL_DIR once stopped the suite's own broker and database.
    env = {**env, "MG_LOCAL_DIR": str(home)}
    problems = []
    for server in SERVERS:
        try:
            run_sync(server, "stop", env, timeout=90.0)
        except (ServerCommandFailed, subprocess.TimeoutExpired) as exc:
            problems.append(f"{server} stop: {exc}")
            with contextlib.suppress(ServerCommandFailed, subprocess.TimeoutExpired):
                run_sync(server, "kill9", env, timeout=60.0)
    if keep_logs is not None:
        keep_logs.mkdir(parents=True, exist_ok=True)
        for name in LOG_FILES:
            source = home / name
            if source.is_file():
                shutil.copyfile(source, keep_logs / name.replace("/", "-"))
    shutil.rmtree(home, ignore_errors=True)
    return problems


def sweep_orphans(root: Path = DRILL_HOME) -> list[str]:
    """Stop and delete the servers of folders whose owner process is gone."""
    swept: list[str] = []
    if not root.is_dir():
        return swept
    for home in sorted(root.iterdir()):
        try:
            owner = json.loads((home / OWNER_FILE).read_text())
        except (OSError, ValueError):
            owner = None
        if owner is not None and _owner_alive(owner):
            continue
        if owner is None and time.time() - home.stat().st_mtime < 300:
            continue  # being created right now by another driver
        env = {**os.environ, **(owner or {}).get("env", {})}
        _teardown(home, env, None)
        swept.append(home.name)
    return swept


class OwnServers:
    """One Kafka broker and one PostgreSQL server, on free ports, for one drill."""

    def __init__(
        self,
        *,
        root: Path = DRILL_HOME,
        keep_logs: Path | None = None,
        security: str | None = None,
    ) -> None:
        self.id = uuid.uuid4().hex[:8]
        self.home = root / self.id
        self.root = root
        self.keep_logs = keep_logs
        kafka_port, controller_port, pg_port = distinct_free_ports(3)
        self.kafka_port = kafka_port
        self.pg_port = pg_port
        self.env_overrides = {
            "MG_LOCAL_DIR": str(self.home),
            "KAFKA_PORT": str(kafka_port),
            "KAFKA_CONTROLLER_PORT": str(controller_port),
            "KAFKA_LIBS": str(caller_kafka_libs()),
            "PG_PORT": str(pg_port),
            "MG_TEST_PG_ADMIN_DSN": f"postgresql://postgres@127.0.0.1:{pg_port}/postgres",
        }
        # The caller's security (MG_KAFKA_SECURITY, ADR 0019) unless told, with this broker's
        # own CA and passwords (kafka.sh makes them under this folder on its first start).
        self.security = security or os.environ.get("MG_KAFKA_SECURITY", "sasl_ssl")
        secured = self.security == "sasl_ssl"
        self.kafka = KafkaSettings().model_copy(
            update={
                "bootstrap_servers": f"127.0.0.1:{kafka_port}",
                "security_protocol": "SASL_SSL" if secured else "PLAINTEXT",
                "ssl_cafile": str(self.home / "kafka" / "tls" / "ca.crt") if secured else None,
                "credentials_dir": str(self.home / "kafka" / "credentials") if secured else None,
            }
        )
        self.env_overrides |= {"MG_KAFKA_SECURITY": self.security} | self.kafka.environment()
        self.env = {**os.environ, **self.env_overrides}
        self.admin_dsn = f"postgresql://postgres@127.0.0.1:{pg_port}/postgres"
        self.swept: list[str] = []
        self.teardown_problems: list[str] = []
        self.state_removed = False

    def describe(self) -> dict[str, Any]:
        return {
            "state_dir": str(self.home),
            "kafka_bootstrap": self.kafka.bootstrap_servers,
            "postgres": self.admin_dsn,
            "orphans_swept": self.swept,
        }

    async def run(self, server: str, action: str, timeout: float = 180.0) -> str:
        return await asyncio.to_thread(run_sync, server, action, self.env, timeout)

    async def start(self, server: str) -> float | None:
        """Start (or restart after a kill) and wait until ready; the script's own "ready in"
        figure, in seconds."""
        out = await self.run(server, "start")
        found = READY_IN.search(out)
        return float(found.group(1)) if found else None

    async def kill9(self, server: str) -> None:
        await self.run(server, "kill9", timeout=60.0)

    async def __aenter__(self) -> Self:
        self.swept = await asyncio.to_thread(sweep_orphans, self.root)
        self.home.mkdir(parents=True)
        me = psutil.Process()
        (self.home / OWNER_FILE).write_text(
            json.dumps({"pid": me.pid, "created": me.create_time(), "env": self.env_overrides})
        )
        try:
            await self.start("postgres")
            await self.start("kafka")
            # mg-topics create
            process = await asyncio.create_subprocess_exec(
                python(),
                "-m",
                "shared.messaging.admin",
                "create",
                cwd=ROOT,
                env=self.env,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.STDOUT,
            )
            out, _ = await process.communicate()
            if process.returncode != 0:
                raise ServerCommandFailed(f"mg-topics create failed: {out.decode()[-2000:]}")
        except BaseException:
            await self.close()
            raise
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        # A thread, and shielded: a cancelled drill must still stop its servers.
        task = asyncio.ensure_future(
            asyncio.to_thread(_teardown, self.home, self.env, self.keep_logs)
        )
        try:
            self.teardown_problems = await asyncio.shield(task)
        except asyncio.CancelledError:
            self.teardown_problems = await task
            raise
        finally:
            self.state_removed = not await asyncio.to_thread(self.home.exists)
