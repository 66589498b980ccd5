"""Draw the whole-quorum benchmark's results: commit latency and throughput against offered load.

``plot_results(results, "quorum.png")`` takes the dictionary
``run_quorum_bench.py`` writes as JSON and draws two panels:

* commit latency p50 / p99 / p999 (ms, log scale) against the offered
  records/s, for kraft (fsynced, linger 25 ms; linger 5 ms; without fsync) and
  PySyncObj (open loop);
* committed records/s against offered records/s, with the line where the
  two are equal and PySyncObj's closed-loop maximum.

matplotlib is an optional dependency of the benchmarks (``pip install 'kraft[bench]'``).
"""
from __future__ import annotations

import math
from typing import Iterable, Optional

PERCENTILES = (("p50_ms", "p50", "-"), ("p99_ms", "p99", "--"), ("p999_ms", "p999", ":"))
COLOURS = {"kraft": "tab:blue", "kraft linger 5 ms": "tab:green", "kraft without fsync": "tab:purple",
           "PySyncObj": "tab:orange"}


class PlotUnavailable(RuntimeError):
    """matplotlib is not installed."""


def _rows_by_offer(*groups: Iterable[dict]) -> list[dict]:
    """Rows with an offered rate, one per rate (later groups win), sorted by rate."""
    by_offer = {}
    for group in groups:
        for row in group or ():
            if row.get("offered_per_s"):
                by_offer[row["offered_per_s"]] = row
    return [by_offer[k] for k in sorted(by_offer)]


def series(results: dict) -> dict:
    """label -> rows (offered, committed, percentiles) to draw, from a results dictionary."""
    kraft = results.get("kraft", {})
    pso = results.get("pysyncobj", {})
    latency = kraft.get("latency") or []
    out = {
        "kraft": _rows_by_offer(kraft.get("max_fsync", {}).get("steps"),
                                [r for r in latency if r.get("linger_ms", 25) == 25]),
        "kraft linger 5 ms": _rows_by_offer([r for r in latency if r.get("linger_ms") == 5]),
        "kraft without fsync": _rows_by_offer(kraft.get("max_no_fsync", {}).get("steps")),
        "PySyncObj": _rows_by_offer(pso.get("open_loop", {}).get("steps"), pso.get("latency")),
    }
    return {label: rows for label, rows in out.items() if rows}


def _finite(value) -> Optional[float]:
    try:
        value = float(value)
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) and value > 0 else None


def plot_results(results: dict, path: str, title: Optional[str] = None) -> str:
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise PlotUnavailable("--plot needs matplotlib: pip install 'kraft[bench]'") from exc
    drawn = series(results)
    if not drawn:
        raise ValueError("the results hold no rows with an offered rate to plot")
    fig, (lat, thr) = plt.subplots(1, 2, figsize=(13, 5.2))
    for label, rows in drawn.items():
        colour = COLOURS.get(label)
        for key, name, style in PERCENTILES:
            points = [(r["offered_per_s"], _finite(r.get(key))) for r in rows]
            points = [(x, y) for x, y in points if y is not None]
            if points:
                lat.plot(*zip(*points), style, marker="o", markersize=3, color=colour, label=f"{label} {name}")
        points = [(r["offered_per_s"], _finite(r.get("committed_per_s"))) for r in rows]
        points = [(x, y) for x, y in points if y is not None]
        if points:
            thr.plot(*zip(*points), "-", marker="o", color=colour, label=label)
    offered = [r["offered_per_s"] for rows in drawn.values() for r in rows]
    low, high = min(offered), max(offered)
    thr.plot([low, high], [low, high], color="grey", linewidth=0.8, linestyle="--", label="committed = offered")
    closed = _finite(results.get("pysyncobj", {}).get("max", {}).get("best_committed_per_s"))
    if closed:
        thr.axhline(closed, color=COLOURS["PySyncObj"], linestyle=":", linewidth=1,
                    label="PySyncObj closed-loop max")
    for axis in (lat, thr):
        axis.set_xscale("log")
        axis.set_yscale("log")
        axis.set_xlabel("offered load (records/s, 256-byte records)")
        axis.grid(True, which="both", linewidth=0.3)
    lat.set_ylabel("commit latency (ms)")
    lat.set_title("Commit latency percentiles")
    thr.set_ylabel("committed records/s")
    thr.set_title("Throughput")
    lat.legend(fontsize=7, ncol=2, loc="best")
    thr.legend(fontsize=8)
    meta = results.get("meta", {})
    fig.suptitle(title or f"Three nodes on loopback ({meta.get('mode', '?')} run, revision "
                          f"{meta.get('revision', '?')}, {meta.get('cpus', '?')} CPUs)", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
