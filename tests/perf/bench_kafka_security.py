"""What Kafka's identities cost (ADR 0019): the pipeline over SASL_SSL with ACLs against
the same pipeline over plaintext, in one run, on one machine.

    .venv/bin/python -m tests.perf.bench_kafka_security [--modes plaintext,sasl_ssl
        --rounds 1 --rate 10 --duration 20 --count 200]

Each mode gets a broker and a database server of its own (``OwnServers``, free ports,
``MG_KAFKA_SECURITY`` of that mode), the services as real processes, then the phases of
``bench_pipeline`` (warm-up, sustained ``--rate``, saturation ``--count``). With
``--rounds 2`` the modes alternate (plaintext, sasl_ssl, plaintext, sasl_ssl) so that the
machine's other load falls on both. Writes ``tests/perf/results/kafka_security.json``.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from pathlib import Path
from typing import Any

from stack.harness.servers import OwnServers
from stack.harness.stack import notifications_available
from tests.perf.bench_pipeline import arguments, run_pipeline
from tests.perf.result_file import header, log, write

RESULTS = Path(__file__).resolve().parent / "results" / "kafka_security.json"
E2E = "submit → invoice issued"


def figures(pipeline: dict[str, Any]) -> dict[str, Any]:
    """Throughput and end-to-end percentiles of each phase."""
    out: dict[str, Any] = {}
    for phase in ("sustained", "saturation"):
        if phase in pipeline:
            p = pipeline[phase]
            e2e = p["e2e_ms"][E2E]
            out[phase] = {
                "throughput_per_s": p["throughput_per_s"],
                "e2e_p50_ms": e2e.get("p50"),
                "e2e_p99_ms": e2e.get("p99"),
                "cpu_ms_per_flow_services": p["cpu_ms_per_flow"]["services"],
            }
    return out


async def measure(args: Any, modes: list[str], rounds: int) -> list[dict[str, Any]]:
    runs = []
    for index in range(rounds):
        for mode in modes:
            log(f"round {index + 1}: {mode}")
            async with OwnServers(security=mode) as own:
                log(f"own broker and database: {json.dumps(own.describe())}")
                pipeline = await run_pipeline(args, own.kafka, own.admin_dsn)
            runs.append({"mode": mode, "round": index + 1, **figures(pipeline)})
            log(f"{mode}: {json.dumps(runs[-1])}")
    return runs


def compare(runs: list[dict[str, Any]], secured: str, plain: str) -> dict[str, Any]:
    """Medians over the rounds of each mode, and secured / plaintext."""

    def median(values: list[float]) -> float | None:
        values = sorted(v for v in values if v is not None)
        return values[len(values) // 2] if values else None

    out: dict[str, Any] = {}
    for phase in ("sustained", "saturation"):
        per_mode = {
            mode: {
                key: median([r[phase][key] for r in runs if r["mode"] == mode and phase in r])
                for key in ("throughput_per_s", "e2e_p50_ms", "e2e_p99_ms")
            }
            for mode in (plain, secured)
        }
        ratio = {
            key: round(per_mode[secured][key] / per_mode[plain][key], 2)
            if per_mode[secured][key] and per_mode[plain][key]
            else None
            for key in per_mode[plain]
        }
        out[phase] = {**per_mode, f"{secured}_over_{plain}": ratio}
    return out


def main() -> None:
    parser = arguments()
    parser.set_defaults(rate=10.0, duration=20.0, count=200, out=RESULTS, baseline="none")
    parser.add_argument("--modes", default="plaintext,sasl_ssl")
    parser.add_argument("--rounds", type=int, default=1)
    args = parser.parse_args()
    args.notifications = (
        notifications_available() if args.notifications == "auto" else args.notifications == "on"
    )
    modes = args.modes.split(",")
    started = time.monotonic()
    load_before = os.getloadavg()
    runs = asyncio.run(measure(args, modes, args.rounds))
    result = {
        **header("tests.perf.bench_kafka_security", args, load_before),
        "runs": runs,
        "comparison": compare(runs, "sasl_ssl", "plaintext")
        if {"sasl_ssl", "plaintext"} <= set(modes)
        else None,
        "seconds": round(time.monotonic() - started, 1),
    }
    write(args.out, result)
    log(f"written {args.out} ({result['seconds']} s)")
    log(json.dumps(result["comparison"], indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
