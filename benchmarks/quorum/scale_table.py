"""The README's scale table from ``kafka_peer.py --parts throughput`` results, one file per shape.

    python benchmarks/quorum/scale_table.py "3 voters, 256 B=t256.json" "5 voters, 256 B=v5.json" ...

For each shape: the best committed records/s of each round (kraft and Kafka, median and min–max
over rounds, and the kraft/Kafka ratio within each round), and CPU-seconds per million committed
records (all nodes) at every offered step (medians over rounds), with kraft's spread from its
lowest step to its highest step held (≥ 90 % committed), against the ±15 % goal.
"""
from __future__ import annotations

import json
import sys

from kafka_peer import _spread, best_per_round, median


def shape_rows(label: str, results: dict) -> list[str]:
    rows = [r for r in results.get("throughput", []) if "error" not in r]
    kafka = next((r["system"] for r in rows if r["system"] != "kraft"), "kafka")
    best = best_per_round(results.get("throughput", []))
    k_best = [per.get("kraft", 0.0) for per in best.values()]
    f_best = [per.get(kafka, 0.0) for per in best.values()]
    ratios = " / ".join(f"{k / f:.1f}" if f else "—" for k, f in zip(k_best, f_best))
    steps = sorted({r["offered_per_s"] for r in rows})
    cpu = {}
    for system in ("kraft", kafka):
        cpu[system] = [median([r["cpu_s_per_million"] for r in rows
                               if r["system"] == system and r["offered_per_s"] == s
                               and r.get("cpu_s_per_million") == r.get("cpu_s_per_million")] or [float("nan")])
                       for s in steps]
    held = [s for s in steps if median([r["committed_per_s"] / s for r in rows
                                        if r["system"] == "kraft" and r["offered_per_s"] == s] or [0]) >= 0.9]
    k_cpu_held = [c for s, c in zip(steps, cpu["kraft"]) if s in held and c == c]
    flat = f"{max(k_cpu_held) / min(k_cpu_held):.1f}× from {held[0]:,} to {held[-1]:,}/s" if k_cpu_held else "—"
    loads = [r["load_1m"] for r in rows if "load_1m" in r]

    def fmt(values):
        return " / ".join("—" if v != v else f"{v:.3g}" for v in values)
    return [f"| {label} | {_spread(k_best)} | {_spread(f_best)} | {ratios} | {', '.join(f'{s // 1000:,}k' for s in steps)} | "
            f"{fmt(cpu['kraft'])} | {fmt(cpu[kafka])} | {flat} | {min(loads):.1f}–{max(loads):.1f} |"]


def main(argv=None) -> int:
    args = sys.argv[1:] if argv is None else argv
    print("| shape | kraft best committed/s | Kafka 4.4.0 best committed/s | ratio in each round | offered steps | "
          "kraft CPU-s per M at each step | Kafka CPU-s per M | kraft CPU per record, highest / lowest (goal ≤ 1.15×) "
          "| load |")
    print("|---|---|---|---|---|---|---|---|---|")
    for item in args:
        label, _, path = item.partition("=")
        for line in shape_rows(label, json.loads(open(path).read())):
            print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
