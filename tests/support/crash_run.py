"""What every kill -9 test keeps: its seed, the draws made from it, and the seconds spent in
each phase."""

from __future__ import annotations

import os
import random
import time


def crash_seed() -> int:
    """``MG_CRASH_SEED`` replays a run; otherwise a new seed, which the test prints."""
    return int(os.environ.get("MG_CRASH_SEED", random.randrange(1 << 32)))


class Laps:
    """Seconds since the start and spent in each named phase, for the test's summary."""

    def __init__(self) -> None:
        self._started = time.monotonic()
        self.phases: dict[str, float] = {}

    def __call__(self, name: str) -> None:
        spent = time.monotonic() - self._started - sum(self.phases.values())
        self.phases[name] = round(spent, 1)

    @property
    def seconds(self) -> float:
        return round(time.monotonic() - self._started, 1)


def crash_start(kill_after: tuple[int, int]) -> tuple[Laps, int, random.Random, int]:
    """A kill -9 run begins: its laps, its seed, the generator of every draw it makes, and
    the first draw, how far in (within ``kill_after``) the kill comes."""
    seed = crash_seed()
    rng = random.Random(seed)
    return Laps(), seed, rng, rng.randint(*kill_after)
