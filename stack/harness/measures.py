"""Measurements of a run: percentiles (one formula for the demo, the benchmarks and the
drills: nearest rank), latency summaries, the handler histograms scraped from /metrics."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from typing import Any

import httpx

from shared.statistics import percentile

__all__ = ["handler_breakdown", "latency_summary", "percentile", "scrape_handler_seconds"]


def latency_summary(values_ms: list[float]) -> dict[str, Any]:
    """Count, mean and percentiles, in milliseconds. With fewer than 1,000 values the
    p99.9 is the maximum: it is reported, not estimated."""
    if not values_ms:
        return {"n": 0}
    rounded = {
        name: round(value, 1)
        for name, q in (("p50", 0.5), ("p90", 0.9), ("p99", 0.99), ("p99.9", 0.999))
        if (value := percentile(values_ms, q)) is not None
    }
    return {
        "n": len(values_ms),
        "mean": round(sum(values_ms) / len(values_ms), 1),
        **rounded,
        "max": round(max(values_ms), 1),
    }


HANDLER_METRIC = "mg_handler_duration_seconds"


async def scrape_handler_seconds(urls: Iterable[str]) -> dict[str, dict[str, float]]:
    """``service/event type`` -> {count, sum, buckets...} of the handler histogram, summed
    over the instances at ``urls`` (their ``/metrics``)."""
    totals: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    async with httpx.AsyncClient(timeout=10.0) as client:
        for url in urls:
            try:
                text = (await client.get(f"{url}/metrics/")).text
            except httpx.HTTPError:
                continue
            for line in text.splitlines():
                if not line.startswith(HANDLER_METRIC):
                    continue
                name, _, rest = line.partition("{")
                labels_text, _, value = rest.rpartition("} ")
                labels = dict(part.split("=", 1) for part in labels_text.split(",") if "=" in part)
                labels = {k: v.strip('"') for k, v in labels.items()}
                key = f"{labels.get('service')}/{labels.get('event_type')}"
                suffix = name.removeprefix(HANDLER_METRIC)
                if suffix == "_bucket":
                    totals[key][f"le={labels.get('le')}"] += float(value)
                elif suffix in ("_count", "_sum"):
                    totals[key][suffix[1:]] += float(value)
    return {k: dict(v) for k, v in totals.items()}


def handler_breakdown(
    before: Mapping[str, Mapping[str, float]], after: Mapping[str, Mapping[str, float]]
) -> dict[str, dict[str, Any]]:
    """Per service/event type, over the interval: events handled, mean handler time and the
    histogram bucket under which 99 % of them fall (an upper bound, bucket resolution)."""
    out: dict[str, dict[str, Any]] = {}
    for key, now in sorted(after.items()):
        was = before.get(key, {})
        count = now.get("count", 0.0) - was.get("count", 0.0)
        if count <= 0:
            continue
        total = now.get("sum", 0.0) - was.get("sum", 0.0)
        buckets = sorted(
            (float(k[3:]), v - was.get(k, 0.0))
            for k, v in now.items()
            if k.startswith("le=") and k != "le=+Inf"
        )
        p99_bound = next((le for le, n in buckets if n >= 0.99 * count), None)
        out[key] = {
            "handled": int(count),
            "mean_ms": round(1000 * total / count, 2),
            "p99_le_ms": round(1000 * p99_bound, 1) if p99_bound is not None else ">5000",
        }
    return out
