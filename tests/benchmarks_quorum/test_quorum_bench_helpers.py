"""The quorum benchmark's helpers: percentiles, QBENCH lines, measurement windows, the report."""
from __future__ import annotations

import math
import random
import sys
from pathlib import Path

import pytest
from hypothesis import given, strategies as st

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks" / "quorum"))

from quorum_common import (SampleEmitter, SampleFormatError, WindowStats, first_commit_after,  # noqa: E402
                           format_sample, median, parse_sample, percentile)
import run_quorum_bench  # noqa: E402


# ------------------------------------------------------------------ percentiles
def test_percentile_nearest_rank():
    histogram = {1: 1, 2: 1, 3: 1, 4: 1}
    assert percentile(histogram, 0.5) == 2
    assert percentile(histogram, 0.51) == 3
    assert percentile(histogram, 0.0) == 1
    assert percentile(histogram, 1.0) == 4


def test_percentile_tail_of_a_skewed_histogram():
    histogram = {5: 990, 100: 9, 400: 1}
    assert percentile(histogram, 0.5) == 5
    assert percentile(histogram, 0.99) == 5
    assert percentile(histogram, 0.995) == 100
    assert percentile(histogram, 0.999) == 100
    assert percentile(histogram, 0.9995) == 400


def test_percentile_empty_and_bad_quantile():
    assert math.isnan(percentile({}, 0.5))
    with pytest.raises(ValueError):
        percentile({1: 1}, 1.5)


@given(st.lists(st.integers(0, 500), min_size=1, max_size=300), st.floats(0.0, 1.0))
def test_percentile_matches_sorted_list(values, quantile):
    histogram = {}
    for v in values:
        histogram[v] = histogram.get(v, 0) + 1
    ordered = sorted(values)
    expected = ordered[max(1, math.ceil(quantile * len(ordered))) - 1]
    assert percentile(histogram, quantile) == expected


def test_median():
    assert median([3.0, 1.0, 2.0]) == 2.0
    assert median([4.0, 1.0, 3.0, 2.0]) == 2.5
    assert math.isnan(median([]))


# ------------------------------------------------------------------ sample lines
def test_emitter_lines_round_trip():
    lines = []
    emitter = SampleEmitter(lines.append)
    emitter.emit()
    assert lines == []  # nothing committed, nothing written
    emitter.add(3, 1000.0)
    emitter.add(3, 1001.0)
    emitter.add(12.5, 1002.5)
    emitter.emit()
    emitter.add(7, 2000.0)
    emitter.emit()
    emitter.add(4, 3000.0, 40)
    emitter.add(7, 3001.0, 2)
    emitter.emit()
    first, second, third = (parse_sample(line) for line in lines)
    assert (first.first_ms, first.last_ms, first.count, first.histogram) == (1000.0, 1002.5, 3, {3.0: 2, 12.5: 1})
    assert (second.first_ms, second.last_ms, second.count, second.histogram) == (2000.0, 2000.0, 1, {7.0: 1})
    assert (third.first_ms, third.last_ms, third.count, third.histogram) == (3000.0, 3001.0, 42, {4.0: 40, 7.0: 2})


@given(st.dictionaries(st.one_of(st.integers(0, 10_000), st.floats(0, 1e4).map(lambda f: round(f, 1))),
                       st.integers(1, 10**6), min_size=1, max_size=50),
       st.floats(1e12, 2e12), st.floats(0, 1e4))
def test_sample_round_trip(histogram, first, span):
    line = format_sample(first, first + span, sum(histogram.values()), histogram)
    sample = parse_sample(line)
    assert sample.first_ms == first and sample.last_ms == first + span
    assert sample.histogram == {float(k): v for k, v in histogram.items()}


def test_other_lines_are_not_samples():
    assert parse_sample("Throughput (bytes/second): 5120000.00, Latency (ms): 4.0 p75 7.0 p99 12.0 p999") is None
    assert parse_sample('QSTATE {"applied": 3}') is None


@pytest.mark.parametrize("line", [
    "QBENCH ",
    "QBENCH {",
    'QBENCH {"first": 1, "last": 2, "n": 1}',
    'QBENCH {"first": 1, "last": 2, "n": 2, "hist": {"3": 1}}',  # count disagrees with the histogram
    'QBENCH {"first": 5, "last": 2, "n": 1, "hist": {"3": 1}}',  # ends before it starts
    'QBENCH {"first": 1, "last": 2, "n": 1, "hist": {"x": 1}}',
    'QBENCH {"first": 1, "last": 2, "n": 1, "hist": [1]}',
    'QBENCH []',
])
def test_bad_sample_lines(line):
    with pytest.raises(SampleFormatError):
        parse_sample(line)


@given(st.binary(max_size=80))
def test_mutated_sample_lines_never_crash(noise):
    base = format_sample(1000.0, 1200.0, 2, {4: 2})
    rng = random.Random(noise)
    chars = list(base)
    for byte in noise:
        chars[rng.randrange(len(chars))] = chr(byte)
    try:
        sample = parse_sample("".join(chars))
    except SampleFormatError:
        return
    assert sample is None or sample.count == sum(sample.histogram.values())


# ------------------------------------------------------------------ windows
def _sample(first, last, histogram):
    return parse_sample(format_sample(first, last, sum(histogram.values()), histogram))


def test_window_takes_samples_by_their_middle():
    samples = [_sample(0, 200, {50: 100}),        # middle 100: before the window
               _sample(900, 1200, {2: 500}),      # middle 1050: inside
               _sample(1800, 2100, {4: 300}),     # middle 1950: inside
               _sample(2900, 3200, {300: 7})]     # middle 3050: after
    stats = WindowStats(samples, 1000, 3000)
    assert stats.records == 800
    assert stats.rate == 400.0
    assert stats.latency(0.5) == 2
    assert stats.latency(0.999) == 4
    row = stats.as_dict()
    assert row["committed_per_s"] == 400.0 and row["max_ms"] == 4


def test_window_without_samples():
    stats = WindowStats([], 0, 1000)
    assert stats.rate == 0 and math.isnan(stats.latency(0.99))
    with pytest.raises(ValueError):
        WindowStats([], 10, 10)


def test_first_commit_after_a_kill():
    samples = [_sample(100, 400, {1: 3}), _sample(2600, 2700, {9: 2}), _sample(2900, 3000, {3: 2})]
    assert first_commit_after(samples, 500) == 2600
    assert first_commit_after(samples, 3000) is None


# ------------------------------------------------------------------ report
def _results(kraft_max, kraft_p99_25, kraft_p99_5, failover_s, pso_max):
    def row(offered, p99, linger=None):
        out = {"offered_per_s": offered, "committed_per_s": offered, "p50_ms": 1, "p99_ms": p99, "p999_ms": p99}
        if linger is not None:
            out["linger_ms"] = linger
        return out
    return {
        "kraft": {"max_fsync": {"best_committed_per_s": kraft_max, "highest_offered_held_per_s": 160_000},
                  "max_no_fsync": {"best_committed_per_s": kraft_max * 2},
                  "latency": [row(5000, 20, 25), row(20000, kraft_p99_25, 25), row(5000, 5, 5),
                              row(20000, kraft_p99_5, 5)],
                  "failover": {"median_s": failover_s, "min_s": 1, "max_s": 3, "runs_s": [failover_s]}},
        "pysyncobj": {"max": {"best_committed_per_s": pso_max},
                      "open_loop": {"highest_offered_held_per_s": None},
                      "latency": [row(5000, 100), row(20000, 300)],
                      "failover": {"median_s": 1.5, "min_s": 1, "max_s": 2, "runs_s": [1.5]}},
    }


def test_goals_met_and_missed():
    met = {g["goal"]: g["met"] for g in run_quorum_bench.goals(_results(400_000, 29, 9, 2.4, 30_000))}
    assert all(met.values())
    missed = {g["goal"]: g["met"] for g in run_quorum_bench.goals(_results(200_000, 31, 11, 2.6, 30_000))}
    assert not missed["committed throughput >= 10x PySyncObj (fsynced)"]
    assert missed["committed throughput >= 10x PySyncObj (no fsync)"]
    assert not missed["p99 <= 30 ms at 20,000/s, linger 25"]
    assert not missed["p99 <= 10 ms at 20,000/s, linger 5"]
    assert not missed["next commit <= 2.5 s after killing the leader (median)"]


def test_markdown_table_shows_both_systems_and_ratio():
    table = run_quorum_bench.markdown_table(_results(300_000, 29, 9, 2.4, 30_000))
    lines = table.splitlines()
    assert lines[0].startswith("| 3 nodes on loopback")
    assert "| 300,000 | 30,000 | 10.0× |" in lines[2]
    assert "| 600,000 | 30,000 | 20.0× |" in lines[3]
    assert "1 / 29 / 29" in table and "1 / 300 / 300" in table
    assert "2.40" in table
    assert "| 160,000 | none of the steps | n/a |" in table
    assert "Kafka's timers" not in table  # not measured, no row


def test_markdown_table_row_for_kafkas_timers():
    results = _results(300_000, 29, 9, 1.2, 30_000)
    results["kraft"]["failover_kafka_timers"] = {"median_s": 3.4, "min_s": 3.1, "max_s": 3.8, "runs_s": [3.4]}
    row = run_quorum_bench.markdown_table(results).splitlines()[-1]
    assert row == "| same, kraft with Kafka's timers (kraft.quorum.fast.failover=false) | 3.40 (3.10–3.80) | | |"


# ------------------------------------------------------------------ kraft failover phases
def test_leader_line_of_the_workload_log():
    match = run_quorum_bench.LEADER_LINE.match(
        "[2026-11-25 02:28:41,123] INFO Leader is now 3 in epoch 5 (kraft.workload)")
    assert match.groups() == ("2026-11-25 02:28:41,123", "3")
    assert run_quorum_bench.LEADER_LINE.match(
        "[2026-11-25 02:28:41,123] INFO Leader is now unknown in epoch 6 (kraft.workload)").group(2) == "unknown"
    assert run_quorum_bench.LEADER_LINE.match(
        "[2026-11-25 02:28:41,123] INFO Following leader 3 in epoch 5; high watermark 10 (kraft.workload)") is None


def test_failover_phases_ignore_changes_before_the_kill():
    changes = [(1000.0, None), (1100.0, 1), (3000.0, None), (3400.0, 2), (3500.0, 2)]
    phases = run_quorum_bench._kraft_failover_phases(changes, 1500.0)
    assert phases == {"leader_unknown_s": 1.5, "elected_s": 1.9}
    assert run_quorum_bench._kraft_failover_phases(changes[:3], 1500.0) is None
