"""The demo's processes: the four services and a local mailbox, each started in a session
of its own (detached: any later ``mg`` command finds it by its pid file), with a log file,
under ``$MG_LOCAL_DIR/services``. The command line and the readiness check are the
harness's own (:mod:`stack.harness.process`)."""

from __future__ import annotations

import contextlib
import mailbox
import os
import signal
import socket
import subprocess
import sys
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path

import httpx

from shared.settings import DEFAULT_HTTP_PORTS
from stack.harness.process import READY_PATH, ROOT, service_command

REPO = ROOT
LOCAL = Path(os.environ.get("MG_LOCAL_DIR", REPO / ".local"))
RUN_DIR = LOCAL / "services"

SERVICES: tuple[str, ...] = (
    "requests",
    "matching",
    "billing",
    "notifications",
    "resources",
    "portal",
)
# The portal (services/portal) serves pages, not an API: its port is its own.
PORTAL_HTTP_PORT = 8005
LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")


@dataclass(frozen=True)
class StackProcess(ABC):
    """One process of the stack, known by its pid file: any ``mg`` command finds it."""

    name: str

    @property
    def pid_file(self) -> Path:
        return RUN_DIR / f"{self.name}.pid"

    @property
    def log_file(self) -> Path:
        return RUN_DIR / f"{self.name}.log"

    @abstractmethod
    def command(self) -> list[str]:
        """The command line that runs this process."""

    @abstractmethod
    def is_ready(self) -> bool:
        """Whether it serves yet (health endpoint, open port)."""

    def pid(self) -> int | None:
        try:
            pid = int(self.pid_file.read_text())
        except (FileNotFoundError, ValueError):
            return None
        return pid if _alive(pid) else None

    def start(self) -> int:
        running = self.pid()
        if running is not None:
            return running
        RUN_DIR.mkdir(parents=True, exist_ok=True)
        with self.log_file.open("ab") as log:
            process = subprocess.Popen(
                self.command(),
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                cwd=REPO,
                # Its own session: a Ctrl-C in the terminal reaches ``mg``, which stops it.
                start_new_session=True,
            )
        self.pid_file.write_text(str(process.pid))
        return process.pid

    def wait_ready(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.pid() is None:
                raise RuntimeError(f"{self.name} s'est arrêté ; voir {self.log_file}")
            if self.is_ready():
                return
            time.sleep(0.3)
        raise TimeoutError(f"{self.name} pas prêt après {timeout:.0f} s ; voir {self.log_file}")

    def stop(self, timeout: float = 35.0) -> bool:
        """SIGTERM, then SIGKILL after ``timeout``; False when it was not running."""
        pid = self.pid()
        if pid is None:
            self.pid_file.unlink(missing_ok=True)
            return False
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and _alive(pid):
            time.sleep(0.2)
        if _alive(pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        self.pid_file.unlink(missing_ok=True)
        return True


@dataclass(frozen=True)
class ServiceProcess(StackProcess):
    @property
    def port(self) -> int:
        return int(
            os.environ.get(
                f"MG_{self.name.upper()}_HTTP_PORT",
                DEFAULT_HTTP_PORTS.get(self.name, PORTAL_HTTP_PORT),
            )
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def command(self) -> list[str]:
        return service_command(self.name)

    def is_ready(self) -> bool:
        # Not listening yet is the usual answer while the service starts.
        with contextlib.suppress(httpx.HTTPError):
            return httpx.get(f"{self.url}{READY_PATH}", timeout=2).status_code == 200
        return False


@dataclass(frozen=True)
class MailboxProcess(StackProcess):
    """An SMTP server on the notifications service's mail address that keeps every message
    in a Maildir (``$MG_LOCAL_DIR/mail``): the emails of the demo, readable there."""

    name: str = "mailbox"

    @property
    def host(self) -> str:
        return os.environ.get("MG_NOTIFICATIONS_SMTP_HOST", "127.0.0.1")

    @property
    def port(self) -> int:
        return int(os.environ.get("MG_NOTIFICATIONS_SMTP_PORT", "1025"))

    @property
    def wanted(self) -> bool:
        """Only when notifications send to this machine: a real mail server needs none."""
        return self.host in LOCAL_HOSTS

    @property
    def directory(self) -> Path:
        return LOCAL / "mail"

    def command(self) -> list[str]:
        return [
            sys.executable,
            "-m",
            "aiosmtpd",
            "--nosetuid",
            "--listen",
            f"127.0.0.1:{self.port}",
            "--class",
            "aiosmtpd.handlers.Mailbox",
            str(self.directory),
        ]

    def is_ready(self) -> bool:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.port), 2):
            return True
        return False

    def count(self) -> int:
        """Messages received so far."""
        if not self.directory.exists():
            return 0
        return len(mailbox.Maildir(self.directory, create=False))


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, IndexError):
        return False
    # A zombie has exited; its parent has not collected it yet.
    return state != "Z"


def all_services() -> list[ServiceProcess]:
    return [ServiceProcess(name) for name in SERVICES]
