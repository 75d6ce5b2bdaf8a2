"""The one percentile of the product: nearest rank (``docs/benchmarks.md`` states it).

The demo's summary, the benchmarks and the drills (``stack.harness.measures``, which
re-exports it) and the activity reports (``services.resources``) all call this one.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from fractions import Fraction


def percentile(values: Sequence[float], q: float) -> float | None:
    """The nearest-rank percentile: the smallest value such that at least ``q`` (in
    [0, 1]) of the values are at or below it, i.e. the ``ceil(q * n)``-th smallest (the
    smallest for ``q`` = 0). Always one of the values, never interpolated. None without
    values. ``q`` is read as the decimal it was written as (0.7 * 300 is 210, not
    210.00000000000003), so that the rank is exact."""
    if not 0 <= q <= 1:
        raise ValueError(f"percentile of {q}: q must be in [0, 1]")
    if not values:
        return None
    ordered = sorted(values)
    rank = math.ceil(Fraction(str(q)) * len(ordered))
    return ordered[max(rank, 1) - 1]
