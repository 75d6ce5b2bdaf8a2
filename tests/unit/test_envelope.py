from __future__ import annotations

from datetime import datetime

import pytest

from shared.messaging.envelope import Envelope, InvalidEnvelope, decode_headers


def test_headers_round_trip_and_are_ascii() -> None:
    first = Envelope(type="requests.request.submitted.v1", source="requests", departement="2A")
    headers = first.to_headers()
    assert headers["ce_specversion"] == "1.0"
    assert headers["content-type"] == "application/json"
    assert headers["ce_time"].endswith("Z")
    assert all(v.isascii() for v in headers.values())
    again = Envelope.from_headers(headers)
    assert again == first


def test_a_caused_event_keeps_the_correlation_and_names_its_cause() -> None:
    root = Envelope(type="a.v1", source="requests", departement="49")
    child = root.caused("b.v1", "matching")
    grandchild = child.caused("c.v1", "billing")
    assert root.correlation_id == root.id
    assert child.correlation_id == grandchild.correlation_id == root.id
    assert child.causation_id == root.id and grandchild.causation_id == child.id
    assert child.id != root.id


@pytest.mark.parametrize("missing", ["ce_id", "ce_type", "ce_source", "ce_time", "departement"])
def test_missing_required_header_is_refused(missing: str) -> None:
    headers = Envelope(type="a.v1", source="s", departement="49").to_headers()
    del headers[missing]
    with pytest.raises(InvalidEnvelope, match=missing):
        Envelope.from_headers(headers)


def test_wrong_spec_version_content_type_or_time_is_refused() -> None:
    base = Envelope(type="a.v1", source="s", departement="49").to_headers()
    for name, value in (
        ("ce_specversion", "0.3"),
        ("content-type", "application/xml"),
        ("ce_time", "yesterday"),
        ("ce_time", "2026-01-01T10:00:00"),
    ):
        with pytest.raises(InvalidEnvelope):
            Envelope.from_headers(base | {name: value})


def test_non_ascii_headers_are_refused_both_ways() -> None:
    with pytest.raises(InvalidEnvelope):
        Envelope(type="a.v1", source="sérvice", departement="49").to_headers()
    with pytest.raises(InvalidEnvelope):
        decode_headers([("departement", "é".encode())])


def test_naive_time_is_refused() -> None:
    with pytest.raises(InvalidEnvelope):
        Envelope(type="a.v1", source="s", departement="49", time=datetime(2026, 1, 1))
