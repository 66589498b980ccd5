"""The Kafka-peer benchmark's harness: the summary-line parser on real captured lines, log end offsets
read from segment files, CPU time from /proc, the report's grouping."""
from __future__ import annotations

import math
import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks" / "quorum"))

import kafka_peer  # noqa: E402
from kafka_peer import Summary, cpu_seconds, log_end_offset, parse_summary, table  # noqa: E402
from kraft.records import encode_batch  # noqa: E402

#: Summary lines captured from real runs of kafka_peer.py (Kafka 4.4.0 and 3.9.2 TestRaftServer
#: leaders, and kraft's test server), one "<system>\t<line>" per line.
CAPTURED = Path(__file__).resolve().parent / "data" / "summary_lines.txt"


def _captured():
    rows = [line.split("\t", 1) for line in CAPTURED.read_text().splitlines()
            if line.strip() and not line.startswith("#")]
    return [(system, line) for system, line in rows]


@pytest.mark.parametrize("system,line", _captured())
def test_captured_summary_lines_parse(system, line):
    summary = parse_summary(line)
    assert summary is not None, line
    assert summary.bytes_per_s > 0
    # Kafka's histogram: 1 ms buckets up to 250 ms, percentiles are bucket edges and ordered.
    assert summary.p75_ms <= summary.p99_ms <= summary.p999_ms <= 250
    assert float(line.split(": ")[1].split(",")[0]) == summary.bytes_per_s


def test_captured_lines_come_from_both_systems():
    systems = {system.split("-")[0] for system, _ in _captured()}
    assert systems == {"kraft", "kafka"}


def test_summary_parser_numbers_and_other_lines():
    assert parse_summary("Throughput (bytes/second): 5120000.00, Latency (ms): 4.0 p75 7.0 p99 12.0 p999") == \
        Summary(5120000.0, 4.0, 7.0, 12.0)
    comma = parse_summary("Throughput (bytes/second): 5120000,50, Latency (ms): 4,0 p75 7,0 p99 12,0 p999")
    assert comma == Summary(5120000.5, 4.0, 7.0, 12.0)
    nan = parse_summary("Throughput (bytes/second): 0.00, Latency (ms): NaN p75 NaN p99 NaN p999")
    assert nan.bytes_per_s == 0 and math.isnan(nan.p99_ms)
    for other in ("", "QBENCH {}", "[2026-12-06 13:00:00,000] INFO Leader is now 1 in epoch 2",
                  "Throughput (bytes/second): 1.0, Latency (ms): 4.0 p75 7.0 p99"):
        assert parse_summary(other) is None


def _write_segment(directory: Path, base: int, batches: list[tuple[int, int]], tail: bytes = b"") -> None:
    partition = directory / kafka_peer.TOPIC_DIR
    partition.mkdir(parents=True, exist_ok=True)
    data = b"".join(encode_batch([b"x" * 10] * count, base_offset=offset) for offset, count in batches)
    (partition / f"{base:020d}.log").write_bytes(data + tail)


def test_log_end_offset_reads_the_newest_segment(tmp_path):
    assert log_end_offset(tmp_path) == 0
    _write_segment(tmp_path, 0, [(0, 5), (5, 3)])
    assert log_end_offset(tmp_path) == 8
    # a newer segment, then preallocated zeros and a torn batch at its end: both ignored
    torn = encode_batch([b"y"] * 4, base_offset=20)[:-3]
    _write_segment(tmp_path, 8, [(8, 2), (10, 10)], tail=torn)
    assert log_end_offset(tmp_path) == 20
    _write_segment(tmp_path, 30, [], tail=b"\0" * 4096)  # newest segment still empty
    assert log_end_offset(tmp_path) == 20


def test_cpu_seconds_of_this_process_grows():
    before = cpu_seconds(os.getpid())
    deadline = before + 0.05
    while cpu_seconds(os.getpid()) < deadline:
        sum(range(10_000))
    assert cpu_seconds(os.getpid()) >= deadline
    assert cpu_seconds(2 ** 22 + 12345) == 0.0  # no such process


def test_table_gives_median_and_spread_per_system():
    rows = [{"system": "kraft", "offered_per_s": 20_000, "committed_per_s": r, "p75_ms": 1.0, "p99_ms": p,
             "p999_ms": 9.0, "cpu_s_per_million": 10.0, "load_1m": 3.0}
            for r, p in ((19_000, 5.0), (20_000, 7.0), (21_000, 6.0))]
    rows.append({"system": "kafka-4.4.0", "offered_per_s": 20_000, "error": "did not start", "load_1m": 4.0})
    text = table(rows)
    assert "| kraft | 3/3 | 20,000 (19,000–21,000) | 1 (1–1) / 6 (5–7) / 9 (9–9) |" in text
    assert "| kafka-4.4.0 | 0/1 | n/a |" in text


def test_leader_epochs_and_extra_elections():
    lines = ["[2026-12-06 13:00:00,000] INFO Leader is now 1 in epoch 1 (kraft.tools.workload)",
             "[2026-12-06 13:00:01,000] INFO Leader is now unknown in epoch 2 (kraft.tools.workload)",
             "[2026-12-06 13:00:01,100] INFO Leader is now 2 in epoch 2 (kraft.tools.workload)",
             "[2026-12-06 13:00:01,100] INFO Leader is now 2 in epoch 2 (kraft.tools.workload)",
             "[2026-12-06 13:00:05,000] INFO Leader is now 3 in epoch 4 (kraft.tools.workload)"]
    epochs = kafka_peer.leader_epochs(lines)
    assert epochs == [1, 2, 4]
    assert kafka_peer.extra_elections(epochs) == [0, 1]


def test_best_per_round_takes_each_systems_highest_step():
    rows = [{"round": 0, "system": "kraft", "committed_per_s": 10.0}, {"round": 0, "system": "kraft", "committed_per_s": 30.0},
            {"round": 0, "system": "kafka-4.4.0", "committed_per_s": 20.0},
            {"round": 0, "system": "kafka-4.4.0", "error": "did not start"},
            {"round": 1, "system": "kraft", "committed_per_s": 5.0}]
    assert kafka_peer.best_per_round(rows) == {0: {"kraft": 30.0, "kafka-4.4.0": 20.0}, 1: {"kraft": 5.0}}
