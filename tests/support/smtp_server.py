"""A real SMTP server for tests: aiosmtpd on 127.0.0.1, on a free port, keeping every
message it accepts.

Recipients whose address starts with ``tempfail-`` are refused with 451 (come back
later) on their first attempt; those starting with ``refuse-`` always with 550.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from typing import Any, cast

from aiosmtpd.controller import Controller


@dataclass(frozen=True)
class Mail:
    recipients: tuple[str, ...]
    message: EmailMessage
    received_at: float

    @property
    def subject(self) -> str:
        return str(self.message["Subject"])

    @property
    def message_id(self) -> str:
        return str(self.message["Message-ID"])

    def part(self, subtype: str) -> str:
        found = self.message.get_body(preferencelist=(subtype,))
        assert found is not None, f"no text/{subtype} part"
        return cast(str, cast(EmailMessage, found).get_content())

    @property
    def text(self) -> str:
        return self.part("plain")

    @property
    def html(self) -> str:
        return self.part("html")


class SmtpSink:
    def __init__(self) -> None:
        self.mails: list[Mail] = []
        self.rcpt_attempts: Counter[str] = Counter()
        self._lock = threading.Lock()
        self.port = 0
        self._controller: Controller | None = None

    # --- aiosmtpd handler hooks, run in the server's thread ------------------------------
    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: Any
    ) -> str:
        with self._lock:
            self.rcpt_attempts[address] += 1
            attempt = self.rcpt_attempts[address]
        if address.startswith("refuse-"):
            return "550 5.1.1 Mailbox unavailable"
        if address.startswith("tempfail-") and attempt == 1:
            return "451 4.3.0 Try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = BytesParser(policy=policy.default).parsebytes(envelope.content)
        with self._lock:
            self.mails.append(
                Mail(tuple(envelope.rcpt_tos), cast(EmailMessage, message), time.monotonic())
            )
        return "250 Message accepted for delivery"

    # --- for the tests --------------------------------------------------------------------
    def start(self) -> None:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self._controller = Controller(self, hostname="127.0.0.1", port=self.port)
        self._controller.start()

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()

    def with_id(self, message_id: str) -> list[Mail]:
        with self._lock:
            return [m for m in self.mails if m.message_id == message_id]

    def to(self, address: str) -> list[Mail]:
        with self._lock:
            return [m for m in self.mails if address in m.recipients]

    async def wait_for(
        self, condition: Callable[[], bool], timeout: float = 30.0, settle: float = 0.0
    ) -> None:
        """Until ``condition()`` holds, then ``settle`` seconds more to let extras show."""
        deadline = time.monotonic() + timeout
        while not condition():
            if time.monotonic() > deadline:
                raise TimeoutError(f"SMTP condition not met after {timeout}s")
            await asyncio.sleep(0.05)
        await asyncio.sleep(settle)


@contextmanager
def smtp_sink() -> Iterator[SmtpSink]:
    sink = SmtpSink()
    sink.start()
    try:
        yield sink
    finally:
        sink.stop()
