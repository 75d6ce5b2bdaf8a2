"""Service processes of the local stack: start, stop, status, with pid and log files."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from shared.settings import DEFAULT_HTTP_PORTS

REPO = Path(__file__).resolve().parent.parent
LOCAL = Path(os.environ.get("MG_LOCAL_DIR", REPO / ".local"))
RUN_DIR = LOCAL / "services"

SERVICES: tuple[str, ...] = ("requests", "matching", "billing", "notifications")


@dataclass(frozen=True)
class ServiceProcess:
    name: str

    @property
    def port(self) -> int:
        return int(
            os.environ.get(f"MG_{self.name.upper()}_HTTP_PORT", DEFAULT_HTTP_PORTS[self.name])
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid_file(self) -> Path:
        return RUN_DIR / f"{self.name}.pid"

    @property
    def log_file(self) -> Path:
        return RUN_DIR / f"{self.name}.log"

    def pid(self) -> int | None:
        try:
            pid = int(self.pid_file.read_text())
        except (FileNotFoundError, ValueError):
            return None
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return None
        return pid

    def start(self) -> int:
        running = self.pid()
        if running is not None:
            return running
        RUN_DIR.mkdir(parents=True, exist_ok=True)
        with self.log_file.open("ab") as log:
            process = subprocess.Popen(  # noqa: S603
                [sys.executable, "-m", f"services.{self.name}.entrypoints.main"],
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=REPO,
                start_new_session=True,
            )
        self.pid_file.write_text(str(process.pid))
        return process.pid

    def wait_ready(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.pid() is None:
                raise RuntimeError(f"{self.name} exited; see {self.log_file}")
            # Not listening yet is the usual answer while the service starts.
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{self.url}/health/ready", timeout=2).status_code == 200:
                    return
            time.sleep(0.3)
        raise TimeoutError(f"{self.name} not ready after {timeout}s; see {self.log_file}")

    def stop(self, timeout: float = 35.0) -> bool:
        pid = self.pid()
        if pid is None:
            self.pid_file.unlink(missing_ok=True)
            return False
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self.pid() is not None and _alive(pid):
            time.sleep(0.2)
        if _alive(pid):
            os.kill(pid, signal.SIGKILL)
        self.pid_file.unlink(missing_ok=True)
        return True


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split()[2]
    except (FileNotFoundError, IndexError):
        return False
    # A zombie has exited; its parent has not collected it yet.
    return state != "Z"


def all_services() -> list[ServiceProcess]:
    return [ServiceProcess(name) for name in SERVICES]
