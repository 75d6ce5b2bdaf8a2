"""The one percentile of the demo, the benchmarks and the drills: nearest rank."""

from __future__ import annotations

import statistics

import pytest
from hypothesis import given
from hypothesis import strategies as st

from stack.harness.measures import latency_summary, percentile


def test_nearest_rank_is_the_ceil_q_n_th_smallest() -> None:
    values = [15.0, 20.0, 35.0, 40.0, 50.0]
    assert percentile(values, 0.05) == 15.0
    assert percentile(values, 0.30) == 20.0
    assert percentile(values, 0.40) == 20.0
    assert percentile(values, 0.50) == 35.0
    assert percentile(values, 1.0) == 50.0
    assert percentile(values, 0.0) == 15.0


def test_the_rank_is_exact_where_floats_are_not() -> None:
    # 0.7 * 300 is 210.00000000000003 in floating point: the rank is still 210.
    values = [float(i) for i in range(1, 301)]
    assert percentile(values, 0.7) == 210.0
    assert percentile(values, 0.99) == 297.0
    assert percentile([float(i) for i in range(1, 1001)], 0.999) == 999.0


def test_unordered_input_and_no_values() -> None:
    assert percentile([3.0, 1.0, 2.0], 0.5) == 2.0
    assert percentile([], 0.5) is None
    with pytest.raises(ValueError):
        percentile([1.0], 1.5)


@given(st.lists(st.floats(-1e6, 1e6), min_size=1, max_size=200), st.integers(1, 99))
def test_at_least_q_of_the_values_are_at_or_below_it(values: list[float], pct: int) -> None:
    p = percentile(values, pct / 100)
    assert p in values
    assert sum(v <= p for v in values) * 100 >= pct * len(values)
    assert sum(v < p for v in values) * 100 < pct * len(values)


def test_the_median_of_an_odd_count_is_the_statistics_median() -> None:
    values = [5.0, 1.0, 9.0, 3.0, 7.0]
    assert percentile(values, 0.5) == statistics.median(values)


def test_latency_summary_reports_the_same_percentiles() -> None:
    values = [float(i) for i in range(1, 101)]
    summary = latency_summary(values)
    assert summary["p50"] == 50.0
    assert summary["p99"] == 99.0
    assert summary["p99.9"] == summary["max"] == 100.0
