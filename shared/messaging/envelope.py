"""CloudEvents 1.0 in Kafka binary mode: the envelope lives in the headers.

The body is the JSON payload alone. ``ce_id`` is created once, when the outbox
row is written, so a record published twice carries the same id and consumers
recognise the duplicate.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

from shared.contracts.vocabulary import DEPARTEMENT_CODE

SPEC_VERSION = "1.0"
CONTENT_TYPE = "application/json"

H_SPECVERSION = "ce_specversion"
H_ID = "ce_id"
H_SOURCE = "ce_source"
H_TYPE = "ce_type"
H_TIME = "ce_time"
H_CONTENT_TYPE = "content-type"
H_CORRELATION_ID = "correlation_id"
H_CAUSATION_ID = "causation_id"
H_DEPARTEMENT = "departement"

REQUIRED_HEADERS = (H_SPECVERSION, H_ID, H_SOURCE, H_TYPE, H_TIME, H_DEPARTEMENT)

# Bounds that the processed-events and outbox columns hold.
MAX_LENGTHS = {H_ID: 64, H_CORRELATION_ID: 64, H_CAUSATION_ID: 64, H_TYPE: 200, H_SOURCE: 100}


class InvalidEnvelope(ValueError):
    """The headers of a record do not make a CloudEvent we can process."""


@dataclass(frozen=True, slots=True)
class Envelope:
    type: str
    source: str
    departement: str
    id: str = field(default_factory=lambda: str(uuid.uuid4()))
    time: datetime = field(default_factory=lambda: datetime.now(UTC))
    correlation_id: str = ""
    causation_id: str | None = None

    def __post_init__(self) -> None:
        if self.time.tzinfo is None:
            raise InvalidEnvelope("ce_time must be timezone-aware")
        if not self.correlation_id:
            # The first event of a flow starts its correlation.
            object.__setattr__(self, "correlation_id", self.id)

    def caused(self, type: str, source: str, departement: str | None = None) -> Envelope:
        """The envelope of an event that this one causes: same correlation, causation = us."""
        return Envelope(
            type=type,
            source=source,
            departement=departement or self.departement,
            correlation_id=self.correlation_id,
            causation_id=self.id,
        )

    def to_headers(self) -> dict[str, str]:
        headers = {
            H_SPECVERSION: SPEC_VERSION,
            H_ID: self.id,
            H_SOURCE: self.source,
            H_TYPE: self.type,
            H_TIME: self.time.astimezone(UTC).isoformat().replace("+00:00", "Z"),
            H_CONTENT_TYPE: CONTENT_TYPE,
            H_CORRELATION_ID: self.correlation_id,
            H_DEPARTEMENT: self.departement,
        }
        if self.causation_id:
            headers[H_CAUSATION_ID] = self.causation_id
        for name, value in headers.items():
            if not value.isascii():
                raise InvalidEnvelope(f"header {name} must be ASCII")
        return headers

    @classmethod
    def from_headers(cls, headers: Mapping[str, str]) -> Envelope:
        missing = [h for h in REQUIRED_HEADERS if not headers.get(h)]
        if missing:
            raise InvalidEnvelope(f"missing CloudEvents headers: {', '.join(missing)}")
        for name, limit in MAX_LENGTHS.items():
            if len(headers.get(name, "")) > limit:
                raise InvalidEnvelope(f"{name} longer than {limit} characters")
        if not DEPARTEMENT_CODE.fullmatch(headers[H_DEPARTEMENT]):
            raise InvalidEnvelope(
                f"departement {headers[H_DEPARTEMENT]!r} is not a département code"
            )
        if headers[H_SPECVERSION] != SPEC_VERSION:
            raise InvalidEnvelope(f"unsupported ce_specversion {headers[H_SPECVERSION]!r}")
        content_type = headers.get(H_CONTENT_TYPE, CONTENT_TYPE)
        if content_type.split(";")[0].strip() != CONTENT_TYPE:
            raise InvalidEnvelope(f"unsupported content-type {content_type!r}")
        try:
            time = datetime.fromisoformat(headers[H_TIME].replace("Z", "+00:00"))
        except ValueError as exc:
            raise InvalidEnvelope(f"ce_time is not an ISO 8601 timestamp: {exc}") from exc
        if time.tzinfo is None:
            raise InvalidEnvelope("ce_time must carry a time zone")
        return cls(
            type=headers[H_TYPE],
            source=headers[H_SOURCE],
            departement=headers[H_DEPARTEMENT],
            id=headers[H_ID],
            time=time,
            correlation_id=headers.get(H_CORRELATION_ID) or headers[H_ID],
            causation_id=headers.get(H_CAUSATION_ID) or None,
        )


def decode_headers(raw: Iterable[tuple[str, bytes]]) -> dict[str, str]:
    """Kafka headers as text; a header that is not ASCII makes the record invalid."""
    decoded: dict[str, str] = {}
    for name, value in raw:
        try:
            decoded[name] = (value or b"").decode("ascii")
        except UnicodeDecodeError as exc:
            raise InvalidEnvelope(f"header {name} is not ASCII") from exc
    return decoded
