"""A service run as its own OS process, as in production: started, killed, restarted.

The process is the Python interpreter itself (no shell in between), so ``pid``
is the process that a ``kill -9`` must hit. Its output goes to a log file, whose
tail is shown when the service does not become ready. The same command line and the
same readiness check serve the demo's detached processes (:mod:`stack.harness.detached`).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[2]
PYTHON = ROOT / ".venv" / "bin" / "python"
READY_PATH = "/health/ready"


def python() -> str:
    """The repository's interpreter, or this one when there is no ``.venv``."""
    return str(PYTHON) if PYTHON.exists() else sys.executable


def service_module(service: str) -> str:
    """The module whose ``__main__`` runs one instance of ``service``."""
    return f"services.{service}.entrypoints.main"


def service_command(service: str) -> list[str]:
    return [python(), "-m", service_module(service)]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def port_in_use(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


class LoggedProcess:
    """A child process whose output goes to ``log_path``: stopped gracefully, its log shown."""

    def __init__(self, log_path: Path) -> None:
        self.log_path = log_path
        self.process: asyncio.subprocess.Process | None = None

    async def stop(self, timeout: float = 15.0) -> None:
        """Graceful stop (SIGTERM), then SIGKILL if it takes too long. Safe to call twice."""
        process = self.process
        if process is None or process.returncode is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            process.terminate()
        try:
            await asyncio.wait_for(process.wait(), timeout)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            await process.wait()

    def log_tail(self, lines: int = 40) -> str:
        try:
            text = self.log_path.read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])


class ServiceProcess(LoggedProcess):
    """``python -m <module>`` with extra environment variables, logging to ``log_path``."""

    def __init__(self, module: str, *, env: Mapping[str, str], port: int, log_path: Path) -> None:
        super().__init__(log_path)
        self.module = module
        self.env = dict(env)
        self.port = port
        self.base_url = f"http://127.0.0.1:{port}"
        self.starts = 0

    @property
    def pid(self) -> int:
        assert self.process is not None, "not started"
        return self.process.pid

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.returncode is None

    # What a start says in the log beside its number.
    LOG_NOTE = ""

    def arguments(self) -> list[str]:
        """What the interpreter runs."""
        return ["-m", self.module]

    async def start(self) -> None:
        assert not self.running, "already running"
        self.starts += 1
        with self.log_path.open("ab") as log:
            log.write(f"\n===== start #{self.starts}{self.LOG_NOTE} =====\n".encode())
            log.flush()
            self.process = await asyncio.create_subprocess_exec(
                python(),
                *self.arguments(),
                cwd=ROOT,
                env={**os.environ, **self.env},
                stdin=asyncio.subprocess.DEVNULL,
                stdout=log,
                stderr=asyncio.subprocess.STDOUT,
            )

    async def wait_ready(self, path: str = READY_PATH, timeout: float = 45.0) -> None:
        """Poll ``path`` until it answers 200; fail with the log's tail otherwise."""
        deadline = time.monotonic() + timeout
        async with httpx.AsyncClient(base_url=self.base_url, timeout=3.0) as client:
            while True:
                if not self.running:
                    raise RuntimeError(
                        f"{self.module} exited with {self.process and self.process.returncode} "
                        f"before it was ready:\n{self.log_tail()}"
                    )
                with contextlib.suppress(httpx.TransportError):
                    if (await client.get(path)).status_code == 200:
                        return
                if time.monotonic() > deadline:
                    raise TimeoutError(
                        f"{self.module} not ready after {timeout}s:\n{self.log_tail()}"
                    )
                await asyncio.sleep(0.2)

    async def kill(self) -> None:
        """``kill -9``: no shutdown hook runs, in-flight work is lost as in a crash."""
        assert self.process is not None
        if self.process.returncode is None:
            os.kill(self.process.pid, signal.SIGKILL)
        await self.process.wait()


PROFILE_WRAPPER = """
import cProfile, os, runpy, signal, sys
profile = cProfile.Profile()

def dump(*_):
    profile.disable()
    profile.dump_stats(sys.argv[1])
    os._exit(0)

# uvicorn restores this handler after its graceful shutdown and raises SIGTERM again.
signal.signal(signal.SIGTERM, dump)
profile.enable()
try:
    runpy.run_module(sys.argv[2], run_name="__main__", alter_sys=True)
finally:
    dump()
"""


class ProfiledServiceProcess(ServiceProcess):
    """The same process under ``cProfile``; the profile is written at a graceful stop
    (SIGTERM), after uvicorn's own shutdown, to ``profile_path``."""

    def __init__(self, *args: Any, profile_path: Path, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.profile_path = profile_path

    LOG_NOTE = " (cProfile)"

    def arguments(self) -> list[str]:
        return ["-c", PROFILE_WRAPPER, str(self.profile_path), self.module]
