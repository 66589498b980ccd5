"""Hostile clients against a running quorum: memory of the leader and the quorum's throughput.

    python benchmarks/quorum/run_hostile_bench.py [--connections 10000] [--declared 65536]
                                                  [--throughput 50000] [--window 10] [--json FILE]

Starts a three-node kraft quorum (``test-kraft-server-start`` nodes on free 127.0.0.1 ports, as
``run_quorum_bench.py`` does) offering ``--throughput`` 256-byte records/s, measures the committed
rate and the leader's RSS for ``--window`` seconds, then opens ``--connections`` connections to
the leader's listener, each declaring a frame of ``--declared`` bytes and sending half of it, and
measures again while they are held open (the window stays below the partial-request timeout of
30 s, so none is closed for stalling). Then it closes them and measures a third window.
Reports the committed rate of each window, its ratio to the first (goal: >= 95 %), and the
leader's RSS before and at its highest during the attack (goal: < 100 MiB more).
Every process it starts is killed at the end, on error or on Ctrl-C.

``--connections 0`` measures the three windows with no attack: with ``--no-release-mapped``
(the log keeps every mapped page it read resident, as before issue 18) it shows how the leader's
mapped-file RSS grows with ordinary traffic, and without it that it stays flat.
"""
from __future__ import annotations

import argparse
import json
import resource
import socket
import struct
import sys
import tempfile
import time
from pathlib import Path

from quorum_common import ProcessGroup, WindowStats, now_ms, wait_until
from run_quorum_bench import KraftCluster, BenchError

GOAL_THROUGHPUT_KEPT = 0.95
GOAL_RSS_GROWTH_MIB = 100


class Cluster(KraftCluster):
    """The quorum of ``run_quorum_bench.py``, optionally with the mapped-page release switched off."""

    release_mapped = True

    def argv(self, index: int) -> list[str]:
        argv = super().argv(index)
        return argv if self.release_mapped else argv + ["--no-release-mapped"]


def rss_mib(pid: int, field: str = "VmRSS") -> float:
    """``VmRSS`` (all), ``RssAnon`` (heap and buffers) or ``RssFile`` (mapped files) in MiB."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024.0
    raise BenchError(f"no {field} for pid {pid}")


def leader_index(cluster: KraftCluster, timeout_s: float = 30.0) -> int:
    found = []
    if not wait_until(lambda: found.append(cluster.leader()) or found[-1] is not None, timeout_s, 0.2):
        raise BenchError("no leader")
    return found[-1]


def window(cluster: KraftCluster, pid: int, seconds: float) -> dict:
    start = now_ms()
    peak = rss_mib(pid)
    anon = rss_mib(pid, "RssAnon")
    mapped = rss_mib(pid, "RssFile")
    while now_ms() < start + seconds * 1000.0:
        cluster.check_alive()
        peak = max(peak, rss_mib(pid))
        anon = max(anon, rss_mib(pid, "RssAnon"))
        mapped = max(mapped, rss_mib(pid, "RssFile"))
        time.sleep(0.25)
    end = now_ms()
    time.sleep(0.8)     # the last interval's sample line comes a little late
    stats = WindowStats(cluster.samples(), start, end)
    return {"committed_per_s": round(stats.rate, 1), "p99_ms": stats.latency(0.99), "rss_peak_mib": round(peak, 1),
            "rss_anon_peak_mib": round(anon, 1), "rss_file_peak_mib": round(mapped, 1),
            "rss_end_mib": round(rss_mib(pid), 1)}


def half_frames(port: int, count: int, declared: int) -> list[socket.socket]:
    """``count`` connections, each declaring a ``declared``-byte frame and sending half of it."""
    half = declared // 2
    # an ApiVersions-like header, then filler: the frame never completes
    payload = struct.pack(">i", declared) + struct.pack(">hhih", 18, 3, 1, -1) + b"\0" * (half - 10)
    sockets = []
    for i in range(count):
        s = socket.create_connection(("127.0.0.1", port), timeout=10)
        s.setblocking(False)
        try:
            s.send(payload)          # may be cut short when the server is not reading: that is the point
        except BlockingIOError:
            pass
        sockets.append(s)
    return sockets


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--connections", type=int, default=10_000)
    parser.add_argument("--declared", type=int, default=65_536)
    parser.add_argument("--throughput", type=int, default=50_000)
    parser.add_argument("--window", type=float, default=10.0)
    parser.add_argument("--no-release-mapped", action="store_true",
                        help="keep every mapped page read resident, as before issue 18 (to compare)")
    parser.add_argument("--json")
    args = parser.parse_args(argv)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(soft, args.connections + 1024)), hard))

    results = {"connections": args.connections, "declared_bytes": args.declared,
               "offered_per_s": args.throughput}
    with ProcessGroup() as group, tempfile.TemporaryDirectory(prefix="kraft-hostile-") as tmp:
        cluster = Cluster(group, Path(tmp), throughput=args.throughput)
        cluster.release_mapped = not args.no_release_mapped
        results["release_mapped"] = cluster.release_mapped
        cluster.start()
        try:
            cluster.wait_for_commits()
            time.sleep(3.0)
            index = leader_index(cluster)
            pid = cluster.nodes[index].pid
            port = int(cluster.configs[index].read_text().split("127.0.0.1:")[1].split("\n")[0])
            results["before"] = window(cluster, pid, args.window)
            print("before:", results["before"], flush=True)
            started, opening_ms = time.monotonic(), now_ms()
            sockets = half_frames(port, args.connections, args.declared) if args.connections else []
            results["connect_s"] = round(time.monotonic() - started, 1)
            if sockets:
                time.sleep(0.8)
                opening = WindowStats(cluster.samples(), opening_ms, now_ms() - 800.0)
                results["opening"] = {"committed_per_s": round(opening.rate, 1), "p99_ms": opening.latency(0.99),
                                      "rss_end_mib": round(rss_mib(pid), 1)}
                print("while opening:", results["opening"], flush=True)
            results["during"] = window(cluster, pid, args.window)
            results["during"]["leader_unchanged"] = leader_index(cluster) == index
            print("during:", results["during"], flush=True)
            for s in sockets:
                s.close()
            time.sleep(2.0)
            results["after"] = window(cluster, pid, args.window)
            print("after:", results["after"], flush=True)
        finally:
            cluster.kill()
    kept = results["during"]["committed_per_s"] / results["before"]["committed_per_s"]
    growth = results["during"]["rss_peak_mib"] - results["before"]["rss_peak_mib"]
    results["throughput_kept"] = round(kept, 3)
    results["rss_growth_mib"] = round(growth, 1)
    print(f"\n| {args.connections:,} half-frame connections of {args.declared:,} declared bytes "
          f"| before | during | after |\n|---|---|---|---|")
    print(f"| committed records/s (offered {args.throughput:,}) | {results['before']['committed_per_s']:,.0f} "
          f"| {results['during']['committed_per_s']:,.0f} | {results['after']['committed_per_s']:,.0f} |")
    for key, label in (("rss_peak_mib", "leader RSS, peak (MiB)"), ("rss_anon_peak_mib", "of it anonymous"),
                       ("rss_file_peak_mib", "of it mapped files")):
        print(f"| {label} | {results['before'][key]} | {results['during'][key]} | {results['after'][key]} |")
    print(f"\nthroughput kept: {kept:.1%} (goal >= {GOAL_THROUGHPUT_KEPT:.0%}: "
          f"{'met' if kept >= GOAL_THROUGHPUT_KEPT else 'NOT met'}); RSS growth {growth:.1f} MiB "
          f"(goal < {GOAL_RSS_GROWTH_MIB}: {'met' if growth < GOAL_RSS_GROWTH_MIB else 'NOT met'}); "
          f"opening the connections took {results['connect_s']} s"
          + (f", committing {results['opening']['committed_per_s']:,.0f}/s meanwhile" if "opening" in results else ""))
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
