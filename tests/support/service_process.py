"""A service run as its own OS process, as in production: started, killed, restarted.

The process is the Python interpreter itself (no shell in between), so ``pid``
is the process that a ``kill -9`` must hit. Its output goes to a log file, whose
tail is shown when the service does not become ready.
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

import httpx

ROOT = Path(__file__).resolve().parents[2]
PYTHON = ROOT / ".venv" / "bin" / "python"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


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

    async def start(self) -> None:
        assert not self.running, "already running"
        python = str(PYTHON) if PYTHON.exists() else sys.executable
        self.starts += 1
        with self.log_path.open("ab") as log:
            log.write(f"\n===== start #{self.starts} =====\n".encode())
            log.flush()
            self.process = await asyncio.create_subprocess_exec(
                python,
                "-m",
                self.module,
                cwd=ROOT,
                env={**os.environ, **self.env},
                stdin=asyncio.subprocess.DEVNULL,
                stdout=log,
                stderr=asyncio.subprocess.STDOUT,
            )

    async def wait_ready(self, path: str = "/health/ready", timeout: float = 45.0) -> None:
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
