"""An SMTP server that times the arrival of each message."""

from __future__ import annotations

import time
from typing import Any

from stack.harness.process import free_port

# The domain of the notifications service's Message-IDs (``<delivery id@domain>``).
MESSAGE_ID_DOMAIN = "matiere-grise.local"


class MailClock:
    """An SMTP server that accepts everything and keeps, per ``Message-ID``, the time it
    arrived and its ``X-MG-Kind``; headers only, the body is never parsed."""

    def __init__(self) -> None:
        self.port = 0
        self.arrived: dict[str, tuple[float, str]] = {}
        self.count = 0
        self._controller: Any = None

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        now = time.time()
        content = envelope.content
        if isinstance(content, str):
            content = content.encode()
        head = content.split(b"\r\n\r\n", 1)[0].decode("utf-8", "replace")
        found: dict[str, str] = {}
        for line in head.split("\r\n"):
            name, _, value = line.partition(":")
            if name.lower() in ("message-id", "x-mg-kind"):
                found[name.lower()] = value.strip()
        self.count += 1
        if "message-id" in found:
            self.arrived.setdefault(found["message-id"], (now, found.get("x-mg-kind", "")))
        return "250 Message accepted for delivery"

    def start(self) -> None:
        from aiosmtpd.controller import Controller

        self.port = free_port()
        self._controller = Controller(self, hostname="127.0.0.1", port=self.port)
        self._controller.start()

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None
