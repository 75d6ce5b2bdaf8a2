"""Crash safety of the notifications service: ``kill -9`` while 1,000 events are being
turned into emails, then a restart on the same database and consumer group.

Every expected email must reach the (real) SMTP server: none is lost. Duplicates actually
received are counted and reported. The goal is 0, but a send and the commit that records
it are not one atomic step (docs/adr/0009-notifications.md, "The remaining at-least-once
window"): a message the server accepted just before the kill, whose ``sent`` was never
committed, is sent again after the lease, with the same Message-ID. At most one message
per SMTP slot can be in that state at the moment of the kill, hence the bound asserted
below.
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from shared.contracts.topics import REQUESTS_REQUEST
from shared.settings import KafkaSettings
from stack.harness.process import ServiceProcess
from tests.component.notification_demandes import Demande, expected_id
from tests.perf.result_file import write
from tests.support.crash_run import crash_start
from tests.support.events import as_record
from tests.support.kafka_tap import publish_raw
from tests.support.own_process import service_process
from tests.support.smtp_server import Mail, SmtpSink, smtp_sink

pytestmark = [pytest.mark.kafka, pytest.mark.postgres, pytest.mark.slow]

TOTAL = 1_000
KILL_AFTER = (250, 450)  # emails of ours received when the service is killed
SMTP_CONCURRENCY = 4
# Sends in flight at the kill: each may have been accepted by the server without its
# ``sent`` being committed, and is then sent again (same Message-ID) after the lease.
DUPLICATE_WINDOW = SMTP_CONCURRENCY
LEASE_SECONDS = 5.0
KIND = "demande_recue"
RESULTS = Path(__file__).resolve().parents[1] / "perf" / "results" / "notifications_crash.json"


class Tally:
    """Our mails among everything the sink received (the broker is shared: others' events
    reach this service too), scanned incrementally."""

    def __init__(self, sink: SmtpSink, expected: dict[str, str]) -> None:
        self.sink = sink
        self.expected = expected  # Message-ID -> contact address
        self.by_id: Counter[str] = Counter()
        self.scanned = 0

    def update(self) -> int:
        mails = self.sink.mails[self.scanned :]  # appended by the server thread, never removed
        self.scanned += len(mails)
        for mail in mails:
            if mail.message_id in self.expected:
                self.by_id[mail.message_id] += 1
        return len(self.by_id)

    def ours(self) -> list[Mail]:
        addresses = set(self.expected.values())
        return [m for m in list(self.sink.mails) if addresses & set(m.recipients)]


async def wait_consuming(service: ServiceProcess, sink: SmtpSink, kafka: KafkaSettings) -> None:
    """With ``latest`` offsets, events published before the group has its partitions are
    never seen: publish probes until one comes back as an email."""
    deadline = time.monotonic() + 45.0
    while True:
        envelope, record = as_record((probe := Demande()).submitted())
        await publish_raw(kafka, REQUESTS_REQUEST.name, [record])
        message_id = expected_id(envelope, f"requester:{probe.request_id}")
        try:
            await sink.wait_for(lambda mid=message_id: sink.with_id(mid) != [], timeout=3.0)
            return
        except TimeoutError:
            if not service.running or time.monotonic() > deadline:
                raise AssertionError(f"no probe email came back:\n{service.log_tail()}") from None


async def test_kill_9_while_sending_loses_no_email(
    fresh_database: Callable[[str], Awaitable[str]],
    kafka_topics: KafkaSettings,
    tmp_path: Path,
) -> None:
    lap, seed, _, kill_after = crash_start(KILL_AFTER)
    run = uuid.uuid4().hex[:8]
    demandes = [Demande(contact=f"crash-{run}-{n}@example.fr") for n in range(TOTAL)]
    built = [as_record(d.submitted()) for d in demandes]
    expected = {
        expected_id(env, f"requester:{d.request_id}"): d.contact
        for d, (env, _) in zip(demandes, built, strict=True)
    }
    assert len(expected) == TOTAL

    database_url = await fresh_database("notifications_crash")
    summary: dict[str, Any] = {"seed": seed, "expected": TOTAL}
    with smtp_sink() as sink:
        service = service_process(
            "notifications",
            database_url,
            kafka_topics,
            tmp_path,
            purpose="crash",
            env={
                "MG_NOTIFICATIONS_SMTP_PORT": str(sink.port),
                "MG_NOTIFICATIONS_SMTP_CONCURRENCY": str(SMTP_CONCURRENCY),
                "MG_NOTIFICATIONS_SMTP_TIMEOUT_SECONDS": "2",
                "MG_NOTIFICATIONS_WEBHOOK_TIMEOUT_SECONDS": "2",
                "MG_NOTIFICATIONS_LES_COMMUNS_TIMEOUT_SECONDS": "2",
                # Claimed rows of the killed instance are due again this soon after.
                "MG_NOTIFICATIONS_LEASE_SECONDS": str(LEASE_SECONDS),
                "MG_NOTIFICATIONS_DISPATCH_POLL_SECONDS": "0.1",
                "MG_NOTIFICATIONS_BACKOFF_BASE_SECONDS": "0.2",
                "MG_NOTIFICATIONS_BACKOFF_MAX_SECONDS": "1",
                "MG_NOTIFICATIONS_MAX_ATTEMPTS": "5",
                "MG_NOTIFICATIONS_SCHEDULE_SCAN_SECONDS": "3600",
                "MG_NOTIFICATIONS_DIGEST_SCAN_SECONDS": "3600",
            },
        )
        tally = Tally(sink, expected)
        try:
            await service.start()
            await service.wait_ready()
            await wait_consuming(service, sink, kafka_topics)
            first_pid = service.pid
            summary["first_start_seconds"] = lap.seconds

            # Phase 1: 1,000 events, and kill -9 once `kill_after` of our emails arrived.
            published_at = time.monotonic()
            await publish_raw(kafka_topics, REQUESTS_REQUEST.name, [r for _, r in built])
            summary["publish_seconds"] = round(time.monotonic() - published_at, 2)
            # Generous: on a loaded machine the service sends only ~15 emails a second.
            deadline = time.monotonic() + 60.0
            while tally.update() < kill_after:
                assert time.monotonic() < deadline, f"too slow to kill:\n{service.log_tail()}"
                await asyncio.sleep(0.005)
            assert service.pid == first_pid
            os.kill(first_pid, signal.SIGKILL)
            killed_at = time.monotonic()
            await service.kill()  # reaps it
            received_at_kill = tally.update()
            summary["kill"] = {
                "planned_after_emails": kill_after,
                "emails_received_at_kill": received_at_kill,
                "seconds_after_publish": round(killed_at - published_at, 2),
            }
            assert received_at_kill < TOTAL, "the kill came too late: every email was sent"

            # Phase 2: restart on the same database and consumer group.
            await service.start()
            # The group hands the partitions over once the killed member's session
            # (10 s) has expired.
            await service.wait_ready(timeout=60.0)
            ready_at = time.monotonic()
            assert service.pid != first_pid
            first_new = None
            deadline = time.monotonic() + 120.0
            while (distinct := tally.update()) < TOTAL and time.monotonic() < deadline:
                if first_new is None and distinct > received_at_kill:
                    first_new = time.monotonic()
                await asyncio.sleep(0.05)
            all_at = time.monotonic()
            # Let late copies (a lease expiring, a redelivered event) show up.
            await asyncio.sleep(LEASE_SECONDS + 1.0)
            tally.update()
            summary["restart"] = {
                "kill_to_ready_seconds": round(ready_at - killed_at, 1),
                "kill_to_first_new_email_seconds": (
                    round(first_new - killed_at, 1) if first_new else None
                ),
                "kill_to_all_emails_seconds": round(all_at - killed_at, 1),
            }
        finally:
            await service.stop()

        log_tail = service.log_tail()
        ours = tally.ours()
        sink_mails = list(sink.mails)

    missing = sorted(mid for mid in expected if tally.by_id[mid] == 0)
    same_message_id = {mid: n for mid, n in tally.by_id.items() if n > 1}
    # More than one message for one (event, recipient), whatever its Message-ID.
    per_recipient: Counter[str] = Counter()
    unexpected: list[str] = []
    for mail in ours:
        if mail.message_id not in expected or str(mail.message["X-MG-Kind"]) != KIND:
            unexpected.append(f"{mail.message_id} {mail.message['X-MG-Kind']}")
            continue
        assert mail.recipients == (expected[mail.message_id],), mail.recipients
        per_recipient[mail.message_id] += 1
    duplicate_copies = sum(n - 1 for n in per_recipient.values() if n > 1)
    summary |= {
        "received": sum(tally.by_id.values()),
        "received_distinct": len(tally.by_id),
        "missing": len(missing),
        "duplicates": duplicate_copies,
        "duplicated_messages": len(same_message_id),
        "duplicate_window": DUPLICATE_WINDOW,
        "unexpected_to_our_addresses": len(unexpected),
        "seconds": lap.seconds,
        # When each copy arrived, relative to the kill: a resend after the lease shows here.
        "duplicated_message_ids": {
            mid: sorted(
                round(m.received_at - killed_at, 2) for m in sink_mails if m.message_id == mid
            )
            for mid in same_message_id
        },
        "missing_message_ids": missing[:20],
    }
    print(
        f"\nnotifications crash: expected {TOTAL}, received {summary['received']}"
        f" ({summary['received_distinct']} distinct), missing {len(missing)},"
        f" duplicates {duplicate_copies} (window {DUPLICATE_WINDOW}),"
        f" killed after {summary['kill']['emails_received_at_kill']} emails"
        f" ({summary['kill']['seconds_after_publish']} s after publishing),"
        f" restart {summary['restart']}, seed {seed}, {summary['seconds']} s"
    )
    for mid, n in same_message_id.items():
        print(f"  duplicate {mid}: {n} copies")
    write(RESULTS, summary)

    assert missing == [], f"{len(missing)} emails never received, e.g. {missing[:5]}\n{log_tail}"
    assert unexpected == [], unexpected[:10]
    # Every extra copy carries the Message-ID of the original (a receiver can drop it).
    assert sum(n - 1 for n in same_message_id.values()) == duplicate_copies
    # See the module docstring: only the sends in flight at the kill may come twice.
    assert duplicate_copies <= DUPLICATE_WINDOW, same_message_id
