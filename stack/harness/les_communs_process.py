"""The demo's local Les Communs: the stand-in of :mod:`stack.harness.les_communs` as a
detached process, which the notifications service publishes the projects to.

Unless ``MG_NOTIFICATIONS_LES_COMMUNS_URL`` names another server, the demo points the
notifications service at ``http://127.0.0.1:8010`` with a demo API key (both set here,
in the environment the services inherit)."""

from __future__ import annotations

import contextlib
import os
import socket
import sys
from dataclasses import dataclass
from urllib.parse import urlsplit

from stack.harness.detached import LOCAL_HOSTS, StackProcess

URL = "MG_NOTIFICATIONS_LES_COMMUNS_URL"
API_KEY = "MG_NOTIFICATIONS_LES_COMMUNS_API_KEY"
DEMO_PORT = 8010
DEMO_API_KEY = "cle-demo-les-communs"


def demo_environment() -> None:
    """The demo's Les Communs address and key, unless the environment gives others."""
    os.environ.setdefault(URL, f"http://127.0.0.1:{DEMO_PORT}")
    os.environ.setdefault(API_KEY, DEMO_API_KEY)


@dataclass(frozen=True)
class LesCommunsProcess(StackProcess):
    name: str = "les-communs"

    @property
    def url(self) -> str:
        return os.environ.get(URL, f"http://127.0.0.1:{DEMO_PORT}")

    @property
    def port(self) -> int:
        return urlsplit(self.url).port or DEMO_PORT

    @property
    def api_key(self) -> str:
        return os.environ.get(API_KEY, DEMO_API_KEY)

    @property
    def wanted(self) -> bool:
        """Only when the projects go to this machine: the real Les Communs needs none."""
        return urlsplit(self.url).hostname in LOCAL_HOSTS

    def command(self) -> list[str]:
        return [
            sys.executable,
            "-m",
            "stack.harness.les_communs",
            "--port",
            str(self.port),
            "--api-key",
            self.api_key,
        ]

    def is_ready(self) -> bool:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.port), 2):
            return True
        return False
