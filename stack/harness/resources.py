"""What the processes of a stack cost: CPU seconds and peak RSS (psutil), per service
instance and per PostgreSQL database."""

from __future__ import annotations

import asyncio
import contextlib
from collections import defaultdict
from collections.abc import Mapping

import psutil  # type: ignore[import-untyped]


def find_kafka_pid() -> int | None:
    for proc in psutil.process_iter(["cmdline"]):
        cmdline = proc.info.get("cmdline") or []
        if "kafka.Kafka" in cmdline:
            return int(proc.pid)
    return None


class ResourceSampler:
    """CPU seconds (user + system) and peak RSS per label, sampled every ``interval``.

    A label groups processes: a service instance, or the PostgreSQL backends whose
    process title names one database (their RSS is mostly shared memory: only their
    CPU is reported). A process that dies keeps the CPU time last seen.
    """

    def __init__(self, interval: float = 0.5) -> None:
        self.interval = interval
        self._procs: dict[int, tuple[str, psutil.Process]] = {}
        self._cpu: dict[int, float] = {}
        self._databases: dict[str, str] = {}  # database name -> label
        self._peak: dict[str, float] = {}
        self._ticks = 0

    def watch_process(self, label: str, pid: int) -> None:
        with contextlib.suppress(psutil.Error):
            self._procs[pid] = (label, psutil.Process(pid))

    def watch_database(self, label: str, database: str) -> None:
        self._databases[database] = label

    def _scan_backends(self) -> None:
        for proc in psutil.process_iter(["name", "cmdline"]):
            if proc.pid in self._procs or proc.info.get("name") != "postgres":
                continue
            title = " ".join(proc.info.get("cmdline") or [])
            for database, label in self._databases.items():
                if f" {database} " in title:
                    self._procs[proc.pid] = (label, proc)

    def sample(self) -> None:
        if self._databases and self._ticks % 4 == 0:
            self._scan_backends()
        self._ticks += 1
        rss: dict[str, float] = defaultdict(float)
        for pid, (label, proc) in list(self._procs.items()):
            try:
                with proc.oneshot():
                    times = proc.cpu_times()
                    resident = proc.memory_info().rss / 2**20
            except psutil.Error:
                continue
            self._cpu[pid] = times.user + times.system
            if not label.startswith("postgres["):
                rss[label] += resident
        for label, mib in rss.items():
            self._peak[label] = max(self._peak.get(label, 0.0), mib)

    async def run(self) -> None:
        while True:
            self.sample()
            await asyncio.sleep(self.interval)

    def cpu_seconds(self) -> dict[str, float]:
        """CPU seconds per label since each process started, and the machine's busy CPU
        seconds since boot (``machine busy``: every process, ours and everybody else's)."""
        self.sample()
        totals: dict[str, float] = defaultdict(float)
        for pid, (label, _) in self._procs.items():
            totals[label] += self._cpu.get(pid, 0.0)
        machine = psutil.cpu_times()
        totals["machine busy"] = sum(machine) - machine.idle - getattr(machine, "iowait", 0.0)
        return dict(totals)

    def reset_peaks(self) -> None:
        self._peak.clear()
        self.sample()

    def peak_rss_mib(self) -> dict[str, float]:
        return {label: round(mib, 1) for label, mib in sorted(self._peak.items())}


def counters_delta(
    before: Mapping[str, Mapping[str, int]], after: Mapping[str, Mapping[str, int]], per: int
) -> dict[str, dict[str, float]]:
    """``after - before`` per key and counter, divided by ``per`` (say, per flow)."""
    return {
        key: {
            name: round((value - before.get(key, {}).get(name, 0)) / max(1, per), 2)
            for name, value in counters.items()
        }
        for key, counters in after.items()
    }


def cpu_delta(before: Mapping[str, float], after: Mapping[str, float]) -> dict[str, float]:
    """CPU seconds spent in the interval, per label; ``others on the machine`` is the busy
    time of the machine that none of the watched processes account for."""
    delta = {label: round(after[label] - before.get(label, 0.0), 2) for label in sorted(after)}
    if "machine busy" in delta:
        ours = sum(v for k, v in delta.items() if k != "machine busy")
        delta["others on the machine"] = round(max(0.0, delta["machine busy"] - ours), 2)
    return delta
