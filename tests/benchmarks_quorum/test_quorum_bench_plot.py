"""The quorum benchmark's --plot: what is drawn from a results file, and the PNG it writes."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks" / "quorum"))

import plot  # noqa: E402
import run_quorum_bench  # noqa: E402


def row(offered, committed, p50, p99, p999, **extra):
    return {"offered_per_s": offered, "committed_per_s": committed, "p50_ms": p50, "p99_ms": p99,
            "p999_ms": p999, **extra}


RESULTS = {
    "kraft": {
        "max_fsync": {"steps": [row(20_000, 19_990, 16, 28, 29), row(40_000, 39_000, 17, 30, 35),
                                row(80_000, 60_000, 40, 200, 300)], "best_committed_per_s": 60_000},
        "max_no_fsync": {"steps": [row(40_000, 39_900, 15, 27, 28)], "best_committed_per_s": 39_900},
        "latency": [row(5_000, 5_000, 16, 28, 28, linger_ms=25), row(20_000, 20_000, 16, 28, 29, linger_ms=25),
                    row(5_000, 5_000, 5, 8, 9, linger_ms=5), row(20_000, 20_000, 5, 7, 9, linger_ms=5)],
    },
    "pysyncobj": {
        "max": {"best_committed_per_s": 39_605},
        "open_loop": {"steps": [row(20_000, 19_000, 120, 190, 200), row(40_000, 30_000, float("nan"), 300, 400)]},
        "latency": [row(5_000, 5_000, 106, 158, 160), row(20_000, 19_500, 137, 200, 209)],
    },
    "meta": {"mode": "quick", "revision": "test", "cpus": 2},
}


def test_series_merge_the_runs_by_offered_rate():
    drawn = plot.series(RESULTS)
    assert list(drawn) == ["kraft", "kraft linger 5 ms", "kraft without fsync", "PySyncObj"]
    assert [r["offered_per_s"] for r in drawn["kraft"]] == [5_000, 20_000, 40_000, 80_000]
    assert [r["offered_per_s"] for r in drawn["kraft linger 5 ms"]] == [5_000, 20_000]
    assert [r["offered_per_s"] for r in drawn["PySyncObj"]] == [5_000, 20_000, 40_000]
    assert drawn["PySyncObj"][1]["p99_ms"] == 200     # the latency run wins over the step at the same rate


def test_plot_from_a_results_file(tmp_path):
    pytest.importorskip("matplotlib")
    source = tmp_path / "results.json"
    source.write_text(json.dumps(RESULTS))
    target = tmp_path / "quorum.png"
    assert run_quorum_bench.main(["--from-json", str(source), "--plot", str(target)]) == 0
    data = target.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 20_000


def test_plot_errors_are_one_line(tmp_path, capsys):
    assert run_quorum_bench.main(["--from-json", str(tmp_path / "missing.json"), "--plot", "x.png"]) == 1
    empty = tmp_path / "empty.json"
    empty.write_text("{}")
    assert run_quorum_bench.main(["--from-json", str(empty), "--plot", str(tmp_path / "x.png")]) == 1
    err = capsys.readouterr().err
    assert "cannot read" in err and "no rows with an offered rate" in err and "Traceback" not in err


def peer_row(system, offered, committed, cpu, round_=0, **extra):
    return {"system": system, "offered_per_s": offered, "committed_per_s": committed, "cpu_s_per_million": cpu,
            "round": round_, **extra}


def test_scale_and_distance_plots_take_the_spread_of_the_rounds(tmp_path):
    rows = [peer_row("kraft", 20_000, 19_000 + i * 500, 10 + i, i) for i in range(3)]
    assert plot._spread_points(rows, "offered_per_s", "committed_per_s") == [(20_000, 19_500, 19_000, 20_000)]
    rows += [peer_row("kafka-4.4.0", 20_000, 18_000, 30, 0), peer_row("kafka-4.4.0", 80_000, 0, 0, 0, error="x")]
    out = plot.plot_scale({"256 B": {"throughput": rows}}, str(tmp_path / "scale.png"))
    assert Path(out).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    run = {"latency_load": 20_000, "max_load": 320_000, "rows": [
        {"system": "kraft", "offered_per_s": 20_000, "rtt_ms": 10, "window_p50_ms": 20, "window_p99_ms": 40},
        {"system": "kraft", "offered_per_s": 320_000, "rtt_ms": 10, "committed_per_s": 150_000},
        {"system": "kafka-4.4.0", "offered_per_s": 20_000, "rtt_ms": 10, "p75_ms": 30, "p99_ms": 249}]}
    out = plot.plot_distance([run, run], str(tmp_path / "distance.png"))
    assert Path(out).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with pytest.raises(ValueError):
        plot.plot_distance([{"latency_load": 1, "max_load": 2, "rows": []}], str(tmp_path / "none.png"))
