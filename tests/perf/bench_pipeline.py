"""Benchmark of the whole pipeline, against a plain Kafka relay measured in the same run.

    .venv/bin/python -m tests.perf.bench_pipeline [--rate 20 --duration 30 --count 1000
        --instances 1|2 --notifications auto|on|off --baseline per-message,batch]

The services run as real processes (``stack/harness/stack.py``), each on a fresh
database of the tests' PostgreSQL server, with consumer groups of their own. A demande
goes the whole way:

    POST /v1/requests (Idempotency-Key)  →  requests.request.submitted.v2
    matching routes it                    →  matching.assignment.proposed.v1
    the actor accepts (HTTP)              →  matching.assignment.accepted.v1
    the actor completes, 2 days (HTTP)    →  matching.assignment.completed.v1
    billing invoices the mission          →  billing.invoice.issued.v1
    notifications emails the invoice      →  the SMTP server receives it (optional)

Phases: a warm-up (one flow per département, until each got through), then
(a) ``--rate`` demandes per second for ``--duration`` seconds, open loop, and
(b) saturation: ``--count`` demandes submitted as fast as ``--concurrency`` concurrent
requests allow. Latencies are measured from the moment a demande was scheduled
(no coordinated omission), per hop from the Kafka timestamps of its events.

With ``--instances 2``, each service starts with one instance; the second instance of
every service joins ``--scale-out-at`` seconds into phase (a), under load (a rebalance
of every group), and phase (b) runs on both. The groups' assignments (partitions and
départements per instance) are read from the broker before and after, and everything
done twice is counted: proposals per demande, invoices per mission, redeliveries caught
by the idempotent consumers.

Then, in the same run, the baseline (``bench_baseline_relay``): plain aiokafka relays
over the same number of hops, at the same rate and the same count.

Writes ``tests/perf/results/pipeline.json`` (``--out`` to change) and prints a summary.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import pstats
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from shared.settings import KafkaSettings
from stack.harness.databases import PG_ADMIN_DSN
from stack.harness.flows import Flow
from stack.harness.measures import handler_breakdown, scrape_handler_seconds
from stack.harness.resources import counters_delta, cpu_delta
from stack.harness.servers import OwnServers
from stack.harness.stack import Stack, StackOptions, notifications_available
from tests.perf.bench_baseline_relay import MODES, run_baseline
from tests.perf.pipeline_run import (
    Run,
)
from tests.perf.result_file import header, log, write

RESULTS = Path(__file__).resolve().parent / "results" / "pipeline.json"


async def database_per_flow(
    stack: Stack, before: dict[str, dict[str, int]], flows: list[Flow]
) -> dict[str, dict[str, float]]:
    """Transactions and rows per flow, per service database (includes the relays' and
    the periodic jobs' work, and the foreign events the services consumed meanwhile)."""
    await asyncio.sleep(1.5)  # PostgreSQL flushes its counters about every second
    return counters_delta(before, await stack.database_stats(), len(flows))


def instance_urls(stack: Stack) -> list[str]:
    return [i.url for group in stack.instances.values() for i in group if i.process.running]


async def measured(
    run: Run, play: Callable[[], Awaitable[list[Flow]]], drain_timeout: float, **params: Any
) -> tuple[list[Flow], dict[str, Any]]:
    """One phase: the flows ``play`` starts, drained, analysed, with what they cost the stack
    (CPU, peak memory, handler time, database work per flow) beside the phase's ``params``."""
    stack = run.stack
    cpu0 = stack.sampler.cpu_seconds()
    stack.sampler.reset_peaks()
    handlers0 = await scrape_handler_seconds(instance_urls(stack))
    db0 = await stack.database_stats()
    flows = await play()
    drained = await run.drain(flows, timeout=drain_timeout)
    phase = run.analyse(flows, cpu_delta(cpu0, stack.sampler.cpu_seconds()))
    phase |= params | {
        "drained": drained,
        "peak_rss_mib": stack.sampler.peak_rss_mib(),
        "handlers": handler_breakdown(
            handlers0, await scrape_handler_seconds(instance_urls(stack))
        ),
        "database_per_flow": await database_per_flow(stack, db0, flows),
    }
    return flows, phase


def phase_line(name: str, phase: dict[str, Any]) -> str:
    e2e = phase["e2e_ms"]["submit → invoice issued"]
    return (
        f"{name}: {phase['completed']}/{phase['http_accepted']} flows in {phase['seconds']} s, "
        f"{phase['throughput_per_s']}/s; submit→invoice p50 {e2e.get('p50')} ms, "
        f"p99 {e2e.get('p99')} ms, p99.9 {e2e.get('p99.9')} ms"
    )


def profile_summary(run_dir: Path, top: int = 25) -> dict[str, list[str]]:
    """The functions where each profiled service spent its own time (tottime)."""
    out: dict[str, list[str]] = {}
    for path in sorted(run_dir.glob("*.prof")):
        stats = pstats.Stats(str(path))
        total = stats.total_tt  # type: ignore[attr-defined]
        rows = sorted(stats.stats.items(), key=lambda kv: kv[1][2], reverse=True)[:top]  # type: ignore[attr-defined]
        out[path.stem] = [
            f"{100 * tt / total:5.1f}% {tt:7.2f}s {n:>8} {Path(file).name}:{line} {fn}"
            for (file, line, fn), (_cc, n, tt, _ct, _callers) in rows
        ]
        cumulative = sorted(stats.stats.items(), key=lambda kv: kv[1][3], reverse=True)  # type: ignore[attr-defined]
        out[f"{path.stem} (cumulative, project code)"] = [
            f"{ct:7.2f}s {n:>8} {Path(file).name}:{line} {fn}"
            for (file, line, fn), (_cc, n, _tt, ct, _callers) in cumulative
            if "/work/main/" in file and "/.venv/" not in file
        ][:top]
    return out


async def run_pipeline(
    args: argparse.Namespace, kafka: KafkaSettings, admin_dsn: str
) -> dict[str, Any]:
    scale_out = args.instances > 1 and args.scale_out_at >= 0
    options = StackOptions(
        instances=1 if scale_out else args.instances,
        notifications=args.notifications,
        profile=args.profile,
        log_level=args.log_level,
        admin_dsn=admin_dsn,
        extra_env={"MG_KAFKA_SUBSCRIBER_WORKERS": str(args.workers)},
    )
    result: dict[str, Any] = {}
    started = time.monotonic()
    async with Stack(options, kafka) as stack:
        log(f"stack up in {time.monotonic() - started:.1f} s ({stack.run_dir})")
        run = Run(stack, args.seed)
        await run.tap.start()
        try:
            await run.warm_up()
            log("warm-up through for every département")
            result["assignments_before"] = await stack.assignment_report()

            # (a) sustained rate.
            scaled_at: dict[str, float] = {}

            async def add_second_instances() -> None:
                t0 = time.monotonic()
                log("scale-out: starting the second instance of every service")
                await asyncio.gather(*(stack.add_instance(s, wait=False) for s in stack.services))
                await stack.wait_groups(timeout=90.0)
                scaled_at["seconds_to_stable_groups"] = round(time.monotonic() - t0, 1)
                log(f"scale-out: groups stable after {scaled_at['seconds_to_stable_groups']} s")

            flows, sustained = await measured(
                run,
                lambda: run.sustained(
                    args.rate,
                    args.duration,
                    (args.scale_out_at, add_second_instances) if scale_out else None,
                ),
                args.drain_timeout,
                rate=args.rate,
                duration=args.duration,
            )
            if scale_out:
                sustained["scale_out"] = {"at_seconds": args.scale_out_at} | scaled_at
            log(phase_line("sustained", sustained))
            run.flows += flows
            result["sustained"] = sustained
            if scale_out:
                result["assignments_after_scale_out"] = await stack.assignment_report()

            # (b) saturation.
            if args.count > 0:
                flows, saturation = await measured(
                    run,
                    lambda: run.saturation(args.count, args.concurrency),
                    args.drain_timeout,
                    count=args.count,
                    concurrency=args.concurrency,
                )
                log(phase_line("saturation", saturation))
                run.flows += flows
                result["saturation"] = saturation

            await asyncio.sleep(2.0)  # late copies, if any, reach the tap
            result["exactly_once"] = await run.correctness(run.flows)
            log(f"exactly once: {json.dumps(result['exactly_once'], ensure_ascii=False)}")
            result["stack"] = {
                "services": list(stack.services),
                "instances": {s: len(i) for s, i in stack.instances.items()},
                "departements": list(stack.options.departements),
                "run_dir": str(stack.run_dir),
                "mails_received": stack.mail.count if stack.mail else None,
            }
        finally:
            await run.close()
    if args.profile:
        result["profile_top_tottime"] = profile_summary(stack.run_dir)
    return result


def ratios(pipeline: dict[str, Any], baseline: dict[str, Any]) -> dict[str, Any]:
    def r(a: float | None, b: float | None) -> float | None:
        return round(a / b, 1) if a and b else None

    out: dict[str, Any] = {}
    for phase in ("sustained", "saturation"):
        if phase not in pipeline or phase not in baseline:
            continue
        p, b = pipeline[phase], baseline[phase]
        pe, be = p["e2e_ms"]["submit → invoice issued"], b["e2e_ms"]
        out[phase] = {
            "e2e_p50": r(pe.get("p50"), be.get("p50")),
            "e2e_p99": r(pe.get("p99"), be.get("p99")),
            "e2e_p99.9": r(pe.get("p99.9"), be.get("p99.9")),
            "throughput_baseline_over_pipeline": r(b["throughput_per_s"], p["throughput_per_s"]),
            "cpu_per_flow": r(p["cpu_ms_per_flow"]["services"], b["cpu_ms_per_flow_relays"]),
        }
    return out


async def measure(
    args: argparse.Namespace, modes: list[str]
) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """The pipeline, then each baseline, on the same broker and database server."""
    async with contextlib.AsyncExitStack() as exits:
        if args.servers == "own":
            own = await exits.enter_async_context(OwnServers())
            kafka, admin_dsn, servers = own.kafka, own.admin_dsn, own.describe()
            log(f"own broker and database: {json.dumps(servers)}")
        else:
            kafka, admin_dsn = KafkaSettings(), PG_ADMIN_DSN
            servers = {"kafka_bootstrap": kafka.bootstrap_servers, "postgres": admin_dsn}
        pipeline = await run_pipeline(args, kafka, admin_dsn)
        baselines: dict[str, Any] = {}
        for mode in modes:
            baselines[mode] = await run_baseline(
                kafka,
                hops=4 + (1 if args.notifications else 0),
                rate=args.rate,
                duration=args.duration,
                count=args.count,
                concurrency=args.concurrency,
                mode=mode,
                log=log,
            )
        return pipeline, baselines, {"kind": args.servers, **servers}


def arguments() -> argparse.ArgumentParser:
    """The options of a pipeline run (``bench_kafka_security`` adds its own)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rate", type=float, default=20.0, help="demandes per second in (a)")
    parser.add_argument("--duration", type=float, default=30.0, help="seconds of phase (a)")
    parser.add_argument("--count", type=int, default=1000, help="demandes in phase (b); 0 skips it")
    parser.add_argument("--concurrency", type=int, default=32, help="concurrent POSTs in (b)")
    parser.add_argument("--instances", type=int, choices=(1, 2), default=1)
    parser.add_argument(
        "--scale-out-at",
        type=float,
        default=10.0,
        help="with --instances 2: seconds into (a) when the second instances join; "
        "negative: both from the start",
    )
    parser.add_argument(
        "--notifications",
        choices=("auto", "on", "off"),
        default="off",
        help="add the notifications service and the 'email received' hop "
        "(auto: if its subscribers exist)",
    )
    parser.add_argument(
        "--baseline",
        default="per-message",
        help=f"baseline relay modes to run after the pipeline ({', '.join(MODES)}), or 'none'",
    )
    parser.add_argument("--drain-timeout", type=float, default=90.0)
    parser.add_argument("--profile", action="store_true", help="run the services under cProfile")
    parser.add_argument(
        "--log-level", default="INFO", help="of the services (INFO shows skipped duplicates)"
    )
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument(
        "--servers",
        choices=("own", "shared"),
        default="own",
        help="own: a broker and a database server started for this run alone (no other "
        "test's events on the topics); shared: those of MG_KAFKA_BOOTSTRAP_SERVERS and "
        "MG_TEST_PG_ADMIN_DSN",
    )
    parser.add_argument(
        "--workers", type=int, default=1, help="MG_KAFKA_SUBSCRIBER_WORKERS of the services"
    )
    parser.add_argument("--out", type=Path, default=RESULTS)
    return parser


def main() -> None:
    args = arguments().parse_args()
    args.notifications = (
        notifications_available() if args.notifications == "auto" else args.notifications == "on"
    )
    modes = [] if args.baseline == "none" else args.baseline.split(",")

    started = time.monotonic()
    load_before = os.getloadavg()
    pipeline, baselines, servers = asyncio.run(measure(args, modes))
    hops = 4 + (1 if args.notifications else 0)
    ratio_table = {m: ratios(pipeline, b) for m, b in baselines.items()}
    result = {
        **header("tests.perf.bench_pipeline", args, load_before),
        "servers": servers,
        "pipeline": pipeline,
        "baseline": {"hops": hops, **baselines},
        "ratios_pipeline_over_baseline": ratio_table,
        "seconds": round(time.monotonic() - started, 1),
    }
    write(args.out, result)
    log(f"written {args.out} ({result['seconds']} s)")
    for mode, r in ratio_table.items():
        log(f"pipeline / baseline ({mode}): {json.dumps(r)}")


if __name__ == "__main__":
    main()
