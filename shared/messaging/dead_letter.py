"""The dead-letter path: ``<topic>.<consumer-service>.dlq`` with the reason.

The original key, body and headers are kept, so a fixed message can be
replayed to its topic as it was; ``dlq_*`` headers say where it came from and why.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from faststream.kafka import KafkaBroker

from shared.contracts.topics import dead_letter_topic
from shared.observability.metrics import DEAD_LETTERS

MAX_ERROR_CHARS = 2000


@dataclass(frozen=True, slots=True)
class FailedRecord:
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: tuple[tuple[str, bytes], ...]


def _ascii(text: str) -> str:
    return text.encode("ascii", "backslashreplace").decode("ascii")[:MAX_ERROR_CHARS]


class DeadLetters:
    def __init__(self, broker: KafkaBroker, consumer: str) -> None:
        self._broker = broker
        self._consumer = consumer

    async def send(self, record: FailedRecord, *, reason: str, error: str, attempts: int) -> None:
        """Publish and wait for the broker's acknowledgement; raises if it is not durable."""
        headers: dict[str, str] = {}
        for name, value in record.headers:
            if name.startswith("dlq_"):
                continue
            headers[_ascii(name)] = _ascii((value or b"").decode("utf-8", "replace"))
        headers |= {
            "dlq_original_topic": record.topic,
            "dlq_original_partition": str(record.partition),
            "dlq_original_offset": str(record.offset),
            "dlq_consumer": self._consumer,
            "dlq_reason": reason,
            "dlq_error": _ascii(error),
            "dlq_attempts": str(attempts),
            "dlq_failed_at": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
        }
        await self._broker.publish(
            record.value or b"",
            topic=dead_letter_topic(record.topic, self._consumer),
            key=record.key,
            headers=headers,
        )
        DEAD_LETTERS.labels(self._consumer, record.topic, reason).inc()
