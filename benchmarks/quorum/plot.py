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


# ------------------------------------------------------------ kraft against Kafka (issue 17)
def _median(values: list[float]) -> float:
    values = sorted(values)
    n = len(values)
    return values[n // 2] if n % 2 else (values[n // 2 - 1] + values[n // 2]) / 2


def _spread_points(rows: list[dict], x_key: str, y_key: str) -> list[tuple[float, float, float, float]]:
    """(x, median y, min y, max y) over the rows (one per run) at each x, rows with an error left out."""
    by_x: dict = {}
    for r in rows:
        y = _finite(r.get(y_key))
        if "error" in r or y is None or r.get(x_key) is None:
            continue
        by_x.setdefault(r[x_key], []).append(y)
    return [(x, _median(ys), min(ys), max(ys)) for x, ys in sorted(by_x.items())]


def _errorbar(axis, points, label, colour, style):
    if not points:
        return
    xs, ys, lo, hi = zip(*points)
    axis.errorbar(xs, ys, yerr=[[y - a for y, a in zip(ys, lo)], [b - y for y, b in zip(ys, hi)]],
                  fmt=style, marker="o", markersize=3, capsize=2, color=colour, label=label)


def _pyplot():
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise PlotUnavailable("plotting needs matplotlib: pip install 'kraft[bench]'") from exc
    return plt


SHAPE_COLOURS = ("tab:blue", "tab:orange", "tab:green", "tab:red", "tab:purple", "tab:brown")


def plot_scale(shapes: dict, path: str, title: Optional[str] = None) -> str:
    """``shapes``: label -> a ``kafka_peer.py`` results dictionary (its ``throughput`` rows).  Two
    panels: committed records/s and CPU-seconds per million committed records (all nodes) against
    the offered rate; kraft solid, Kafka dashed; median with min–max bars over the rounds."""
    plt = _pyplot()
    fig, (thr, cpu) = plt.subplots(1, 2, figsize=(13, 5.4))
    drawn = False
    for colour, (label, results) in zip(SHAPE_COLOURS, shapes.items()):
        rows = results.get("throughput") or []
        for system, style in (("kraft", "-"), (None, "--")):
            sel = [r for r in rows if (r.get("system") == "kraft") == (system == "kraft")]
            name = "kraft" if system == "kraft" else (sel[0]["system"] if sel else "Kafka")
            points = _spread_points(sel, "offered_per_s", "committed_per_s")
            _errorbar(thr, points, f"{label}: {name}", colour, style)
            _errorbar(cpu, _spread_points(sel, "offered_per_s", "cpu_s_per_million"), f"{label}: {name}", colour,
                      style)
            drawn = drawn or bool(points)
    if not drawn:
        raise ValueError("no throughput rows to plot")
    for axis in (thr, cpu):
        axis.set_xscale("log")
        axis.set_yscale("log")
        axis.set_xlabel("offered records/s")
        axis.grid(True, which="both", linewidth=0.3)
    thr.set_ylabel("committed records/s (median node's log)")
    thr.set_title("Committed against offered")
    cpu.set_ylabel("CPU-seconds per million committed (all nodes)")
    cpu.set_title("Cost per committed record")
    thr.legend(fontsize=6, ncol=2)
    cpu.legend(fontsize=6, ncol=2)
    fig.suptitle(title or "kraft (solid) against Kafka's TestRaftServer (dashed); median and min–max of rounds",
                 fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def plot_distance(runs: list[dict], path: str, title: Optional[str] = None) -> str:
    """``runs``: ``run_distance_bench.py`` results dictionaries.  Two panels against the round trip
    set: commit latency at the latency load (kraft's window p50 / p99, Kafka's summary-line p75 / p99)
    and committed records/s at the maximum load; median with min–max bars over the runs."""
    plt = _pyplot()
    rows = [r for run in runs for r in run.get("rows", [])]
    if not rows:
        raise ValueError("no distance rows to plot")
    latency_load = runs[0]["latency_load"]
    max_load = runs[0]["max_load"]
    fig, (lat, thr) = plt.subplots(1, 2, figsize=(13, 5.2))
    systems = sorted({r["system"] for r in rows}, key=lambda s: s != "kraft")
    for colour, system in zip(("tab:blue", "tab:orange", "tab:green"), systems):
        low = [r for r in rows if r["system"] == system and r["offered_per_s"] == latency_load]
        keys = (("window_p50_ms", "p50", "-"), ("window_p99_ms", "p99", "--")) if system == "kraft" else \
            (("p75_ms", "p75 (summary line)", "-."), ("p99_ms", "p99 (summary line, capped at 249)", ":"))
        for key, name, style in keys:
            _errorbar(lat, _spread_points(low, "rtt_ms", key), f"{system} {name}", colour, style)
        top = [r for r in rows if r["system"] == system and r["offered_per_s"] == max_load]
        _errorbar(thr, _spread_points(top, "rtt_ms", "committed_per_s"), f"{system}", colour, "-")
    for axis in (lat, thr):
        axis.set_xscale("log")
        axis.set_xlabel("round trip added between the nodes (ms)")
        axis.grid(True, which="both", linewidth=0.3)
    lat.set_yscale("log")
    lat.set_ylabel(f"commit latency at {latency_load:,}/s offered (ms)")
    lat.set_title("Commit latency against distance")
    thr.set_ylabel(f"committed records/s at {max_load:,}/s offered")
    thr.set_title("Throughput against distance")
    lat.legend(fontsize=7)
    thr.legend(fontsize=8)
    fig.suptitle(title or "Three nodes in network namespaces, delay from a userspace relay per node (no netem)",
                 fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def main(argv=None) -> int:
    """``plot.py scale OUT.png LABEL=FILE.json ...`` or ``plot.py distance OUT.png FILE.json ...``."""
    import json
    import sys
    args = sys.argv[1:] if argv is None else argv
    if len(args) < 3 or args[0] not in ("scale", "distance"):
        print(main.__doc__, file=sys.stderr)
        return 2
    kind, out, inputs = args[0], args[1], args[2:]
    if kind == "scale":
        shapes = {}
        for item in inputs:
            label, _, file = item.partition("=")
            shapes[label] = json.loads(open(file).read())
        plot_scale(shapes, out)
    else:
        plot_distance([json.loads(open(f).read()) for f in inputs], out)
    print(out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
