"""A webhook's structured CloudEvent and its HMAC signature."""

from __future__ import annotations

import hashlib
import hmac
import json

from services.notifications.domain.webhook import body_of, cloud_event, signature
from tests.unit.notification_events import (
    NOW,
    REQUEST,
)

# --- webhooks ---------------------------------------------------------------------------


def test_structured_cloud_event_and_its_signature() -> None:
    event = cloud_event(
        event_id="0b6c3f7e-5d0a-4c39-9a51-2f1f8c1f9d11",
        event_type="requests.request.submitted.v1",
        source="requests",
        time=NOW,
        departement="49",
        data={"request_id": str(REQUEST), "title": "Réhabilitation"},
        correlation_id="corr-1",
    )
    assert list(event) == [
        "specversion",
        "id",
        "type",
        "source",
        "time",
        "datacontenttype",
        "departement",
        "correlationid",
        "data",
    ]
    assert (event["specversion"], event["time"], event["datacontenttype"]) == (
        "1.0",
        "2026-11-25T10:00:00Z",
        "application/json",
    )
    body = body_of(event)
    assert json.loads(body)["data"]["title"] == "Réhabilitation"
    header = signature("s3cret-s3cret-s3cret", body, 1764064800)
    expected = hmac.new(b"s3cret-s3cret-s3cret", b"1764064800." + body, hashlib.sha256)
    assert header == f"t=1764064800,v1={expected.hexdigest()}"
    assert header != signature("s3cret-s3cret-s3cret", body + b" ", 1764064800)
