"""What the bad-input tests of the requests service share around their cases: the seed,
today's date, the demande a record is about, and the one results file both write and report."""

from __future__ import annotations

import contextlib
import json
import os
import time
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from tests.support.kafka_tap import Record

SEED = int(os.environ.get("MG_BAD_INPUT_SEED", "20261125"))
RESULTS = Path(__file__).resolve().parents[1] / "perf" / "results" / "requests_bad_input.json"
SUMMARY: dict[str, Any] = {"seed": SEED}


def today_utc() -> date:
    return datetime.now(UTC).date()


def request_id_of(record: Record) -> str | None:
    """The demande a record on the shared requests topic is about, if it says."""
    try:
        payload = record.json()
    except ValueError:
        return None
    return payload.get("request_id") if isinstance(payload, dict) else None


def write_summary() -> None:
    """Write ``SUMMARY``, keeping what the file holds of the other channel for the same seed:
    the HTTP and the command tests are two modules, which may run one at a time."""
    summary = dict(SUMMARY)
    with contextlib.suppress(OSError, ValueError):
        previous = json.loads(RESULTS.read_text(encoding="utf-8"))
        if isinstance(previous, dict) and previous.get("seed") == SEED:
            summary = previous | SUMMARY
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(summary, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def report(
    channel: str,
    figures: dict[str, Any],
    started: float,
    title: str,
    per_category: dict[str, tuple[int, dict[Any, int]]],
) -> None:
    """Record one channel's figures (and its seconds since ``started``) in the results file,
    then print them: a title, and per category its count of cases and their detail."""
    SUMMARY[channel] = figures | {"seconds": round(time.monotonic() - started, 1)}
    write_summary()
    print(f"\n{title}")
    for category, (n, detail) in sorted(per_category.items()):
        print(f"  {category:22} {n:4}  {detail}")
