"""Kafka's commit-latency percentiles, committed-bytes rate and summary line."""
from __future__ import annotations

import math

from hypothesis import given, strategies as st

from kraft.tools.perf_stats import CommitStats, SampledHistogram, SampledRate, Throttle, summary_line


def test_summary_line_format_is_kafkas():
    assert summary_line(5120000, 4, 7, 12) == \
        "Throughput (bytes/second): 5120000.00, Latency (ms): 4.0 p75 7.0 p99 12.0 p999"
    assert summary_line(0, math.nan, math.nan, math.nan) == \
        "Throughput (bytes/second): 0.00, Latency (ms): NaN p75 NaN p99 NaN p999"


def test_percentile_is_lower_edge_of_first_bucket_exceeding_the_quantile():
    stat = SampledHistogram()
    for value in range(100):
        stat.record(value, 0)
    assert stat.percentile(0.75, 0) == 75.0
    assert stat.percentile(0.99, 0) == 99.0
    assert stat.percentile(0.5, 0) == 50.0
    assert math.isnan(SampledHistogram().percentile(0.5, 0))


def test_latencies_beyond_250_ms_land_in_the_last_bucket():
    stat = SampledHistogram()
    for value in (3, 1000, 5000, 249):
        stat.record(value, 0)
    assert stat.percentile(0.2, 0) == 3.0
    assert stat.percentile(0.3, 0) == 249.0


@given(st.lists(st.integers(0, 400), min_size=1, max_size=300), st.sampled_from([0.5, 0.75, 0.99, 0.999]))
def test_percentile_matches_a_direct_count(values, quantile):
    stat = SampledHistogram()
    for v in values:
        stat.record(v, 0)
    buckets = sorted(min(v, 249) for v in values)
    # First bucket b whose count of values <= b, over the total, exceeds the quantile.
    expected = next(b for b in range(250) if sum(1 for v in buckets if v <= b) / len(buckets) > quantile)
    assert stat.percentile(quantile, 0) == float(expected)


def test_rate_counts_at_least_one_full_window_plus_elapsed():
    stat = SampledRate()
    for t in range(100):
        stat.record(256, t * 100)  # 100 records over the first 10 s
    # Elapsed 10 s is less than one full 30 s window, so the denominator is 10 + 30 s.
    assert stat.rate_per_second(10_000) == 256 * 100 / 40.0


def test_old_windows_are_dropped():
    stat = SampledHistogram()
    stat.record(100, 0)
    stat.record(1, 30_000)   # second window
    stat.record(1, 60_000)   # third: reuses the first window's slot
    assert stat.percentile(0.99, 60_000) == 1.0
    # After two full windows without events everything is forgotten.
    assert math.isnan(stat.percentile(0.5, 200_000))


def test_commit_stats_report_every_five_seconds():
    stats = CommitStats(now_ms=0)
    lines = [stats.record(latency_ms=t % 7, size=256, now_ms=t) for t in range(0, 12_001, 100)]
    printed = [(i * 100, line) for i, line in enumerate(lines) if line is not None]
    assert [t for t, _ in printed] == [5000, 10000]
    assert all(line.startswith("Throughput (bytes/second): ") for _, line in printed)
    assert printed[0][1].endswith("6.0 p99 6.0 p999")


def test_negative_latency_is_floored_at_zero():
    stats = CommitStats(now_ms=0)
    stats.record(-5, 256, 0)
    assert stats.latency.percentile(0.5, 0) == 0.0


def test_throttle_paces_records_since_the_claim():
    throttle = Throttle(records_per_second=1000, start_ms=10_000)
    assert throttle.delay_ms(0, 10_000) == 0
    assert throttle.delay_ms(5, 10_000) == 5
    assert throttle.delay_ms(5, 10_003) == 2
    assert throttle.delay_ms(5, 10_010) == 0  # behind schedule: send at once
    slow = Throttle(records_per_second=3, start_ms=0)
    assert slow.delay_ms(1, 0) == 333 and slow.delay_ms(2, 0) == 667


def test_rate_forgets_expired_windows():
    stat = SampledRate()
    stat.record(1000, 0)
    stat.record(10, 30_000)
    # At 60 s the first window has expired: only the 10 bytes remain, over the 30 s since the second began.
    assert stat.rate_per_second(60_000) == 10 / 30.0


@given(st.integers(1, 2_000_000), st.integers(0, 10_000), st.floats(-100, 100_000, allow_nan=False))
def test_throttle_due_is_the_last_record_with_no_delay(rate, start, now):
    throttle = Throttle(records_per_second=rate, start_ms=start)
    due = throttle.due(now)
    if due > 0:
        assert throttle.delay_ms(due, now) == 0
    assert throttle.delay_ms(due + 1, now) > 0


def test_throttle_due_settles_in_a_few_steps_at_any_rate(monkeypatch):
    # at 960,000/s a millisecond holds 960 records that round to it; due() must not walk them one by one
    throttle = Throttle(records_per_second=960_000, start_ms=1_000)
    calls = []
    delay = Throttle.delay_ms
    monkeypatch.setattr(Throttle, "delay_ms", lambda self, count, now: calls.append(count) or delay(self, count, now))
    for now in (1_000.0, 1_000.4, 1_000.5, 1_001.0, 1_537.25, 61_000.999):
        calls.clear()
        due = throttle.due(now)
        assert len(calls) <= 4, (now, len(calls))
        assert delay(throttle, due + 1, now) > 0 and (due == 0 or delay(throttle, due, now) == 0)


@given(st.lists(st.tuples(st.integers(-3, 300), st.integers(1, 40)), min_size=1, max_size=30))
def test_record_many_equals_one_record_at_a_time(groups):
    many, single = CommitStats(now_ms=0), CommitStats(now_ms=0)
    now = 0
    for latency, count in groups:
        now += 700
        line_many = many.record_many(latency, 256, now, count)
        lines_single = [single.record(latency, 256, now) for _ in range(count)]
        # the line is due at the same commit (its figures may differ: it is computed after the whole group)
        assert (line_many is None) == all(line is None for line in lines_single)
    for q in (0.5, 0.75, 0.99, 0.999):
        assert many.latency.percentile(q, now) == single.latency.percentile(q, now)
    assert many.throughput.rate_per_second(now) == single.throughput.rate_per_second(now)


def test_a_subclass_watching_every_record_sees_grouped_commits_one_by_one():
    seen = []

    class Watching(CommitStats):
        def record(self, latency_ms, size, now_ms):
            seen.append(latency_ms)
            return super().record(latency_ms, size, now_ms)

    Watching(now_ms=0).record_many(7, 256, 10, 3)
    assert seen == [7, 7, 7]
