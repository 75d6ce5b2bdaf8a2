"""What a webhook endpoint receives: the CloudEvent in structured JSON mode, signed.

Signature header: ``X-MG-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256>`` over
``f"{t}."`` followed by the exact body bytes, keyed by the subscription's secret. The
timestamp is that of the attempt, so a receiver refuses old (replayed) requests, and
the ``id`` lets it refuse one it has already processed.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import UTC, datetime
from typing import Any

SIGNATURE_HEADER = "X-MG-Signature"
DELIVERY_HEADER = "X-MG-Delivery"
ATTEMPT_HEADER = "X-MG-Attempt"
CONTENT_TYPE = "application/cloudevents+json; charset=utf-8"


def cloud_event(
    *,
    event_id: str,
    event_type: str,
    source: str,
    time: datetime,
    departement: str,
    data: dict[str, Any],
    correlation_id: str | None = None,
    causation_id: str | None = None,
) -> dict[str, Any]:
    """The event as published on Kafka, in the structured mode of the HTTP binding.

    The id is the Kafka event's ``ce_id``: one event is the same CloudEvent on every
    channel, so a receiver that reads both can tell. Extension attributes are lower-case
    letters only, as CloudEvents requires.
    """
    event: dict[str, Any] = {
        "specversion": "1.0",
        "id": event_id,
        "type": event_type,
        "source": source,
        "time": time.astimezone(UTC).isoformat().replace("+00:00", "Z"),
        "datacontenttype": "application/json",
        "departement": departement,
    }
    if correlation_id:
        event["correlationid"] = correlation_id
    if causation_id:
        event["causationid"] = causation_id
    return event | {"data": data}


def body_of(event: dict[str, Any]) -> bytes:
    return json.dumps(event, ensure_ascii=False, separators=(",", ":")).encode()


def signature(secret: str, body: bytes, timestamp: int) -> str:
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={digest.hexdigest()}"
