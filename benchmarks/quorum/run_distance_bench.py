"""Latency across distance (issue 17): three nodes in their own network namespaces, joined by veth
pairs on a bridge, with a delay on every connection; kraft against Kafka's TestRaftServer.

    sudo .venv/bin/python benchmarks/quorum/run_distance_bench.py [--rtts 1,10,50] [--json FILE]

What injects the delay: this machine's kernel has no ``sch_netem`` (``tc qdisc add dev lo root
netem ...`` answers "Specified qdisc kind is unknown", and there are no modules to load), so the
delay comes from ``delay_relay.py``: one userspace TCP relay per node, inside the node's namespace,
listening at the node's bridge address (10.77.0.j:9092) and handing every chunk to the node
(127.0.0.1:9092 of that namespace) and back RTT/2 ms later.  Every node-to-node connection ends at
a relay, so each gains one round trip of RTT.  The round trip each setting really gives is
measured first (a 64-byte ping through the same kind of relay, median of 100) and reported.

For each round trip, kraft and Kafka (``--kafka``, default 4.4.0) run in turn, each a fresh
three-node cluster: at ``--latency-load`` offered (20,000/s) for commit latency, and at
``--max-load`` offered (320,000/s) for the committed rate.  The nodes advertise their bridge
addresses (``advertised.listeners``) and listen on their namespace's loopback.  Measured as
``kafka_peer.py`` does: committed records/s from the segment files, latency from the leader's
summary line (and kraft's exact window percentiles; Kafka is read after a 62 s warm-up at the
latency load, when its 2 x 30 s histogram no longer holds its start), CPU from /proc.  The namespaces are made at
the start and deleted at the end, also on an error or a signal.  Needs root.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import kafka_peer  # noqa: E402
from kafka_peer import PeerCluster, log  # noqa: E402
from netns import Topology, leftover  # noqa: E402
from quorum_common import ProcessGroup  # noqa: E402

PORT = 9092
ECHO_PORT, ECHO_RELAY_PORT = 7000, 7001


class NamespacedCluster(PeerCluster):
    """A ``PeerCluster`` whose node j runs in namespace j, reachable at its bridge address."""

    def __init__(self, group, workdir: Path, system: str, topology: Topology, *, throughput: int,
                 record_size: int = kafka_peer.RECORD_SIZE, linger_ms=None, voters: int = 3):
        self.topology = topology
        self.group, self.workdir, self.system = group, workdir, system
        self.throughput, self.record_size = throughput, record_size
        extra = {} if linger_ms is None else {"controller.quorum.append.linger.ms": linger_ms}
        self.configs = self.write_configs(workdir, voters, extra)
        self.nodes = []

    def write_configs(self, workdir: Path, n: int, extra: dict) -> list[Path]:
        workdir.mkdir(parents=True, exist_ok=True)
        voters = ",".join(f"{j}@{self.topology.address(j)}:{PORT}" for j in range(1, n + 1))
        configs = []
        for j in range(1, n + 1):
            props = {"node.id": j, "listeners": f"PLAINTEXT://127.0.0.1:{PORT}",
                     "advertised.listeners": f"PLAINTEXT://{self.topology.address(j)}:{PORT}",
                     "controller.listener.names": "PLAINTEXT", "controller.quorum.voters": voters,
                     "log.dirs": workdir / f"logs-{j}", **extra}
            config = workdir / f"node-{j}.properties"
            config.write_text("".join(f"{k}={v}\n" for k, v in props.items()))
            configs.append(config)
        return configs

    def argv(self, index: int) -> list[str]:
        return [*self.topology.exec_prefix(index + 1), *super().argv(index)]


def start_relays(group: ProcessGroup, topology: Topology, one_way_ms: float) -> list:
    relays = []
    for j in range(1, topology.n + 1):
        relays.append(group.start(f"relay-{j}", [*topology.exec_prefix(j), sys.executable, str(HERE / "delay_relay.py"),
                                                 "relay", "--listen", f"{topology.address(j)}:{PORT}",
                                                 "--to", f"127.0.0.1:{PORT}", "--delay-ms", str(one_way_ms)]))
    return relays


def measure_rtt(group: ProcessGroup, topology: Topology, one_way_ms: float) -> dict:
    """The round trip a relay with this delay gives between namespaces 1 and 2 (median of 100 pings)."""
    relay_py = str(HERE / "delay_relay.py")
    echo = group.start("echo", [*topology.exec_prefix(2), sys.executable, relay_py, "echo",
                                "--listen", f"127.0.0.1:{ECHO_PORT}"])
    relay = group.start("echo-relay", [*topology.exec_prefix(2), sys.executable, relay_py, "relay", "--listen",
                                       f"{topology.address(2)}:{ECHO_RELAY_PORT}", "--to", f"127.0.0.1:{ECHO_PORT}",
                                       "--delay-ms", str(one_way_ms)])
    try:
        time.sleep(1.0)
        out = subprocess.run([*topology.exec_prefix(1), sys.executable, relay_py, "ping", "--to",
                              f"{topology.address(2)}:{ECHO_RELAY_PORT}", "--count", "100"],
                             capture_output=True, text=True, timeout=120)
        words = out.stdout.split()
        if "median" not in words:
            raise RuntimeError(f"ping through the relay failed: {out.stdout} {out.stderr[-500:]}")
        return {"rtt_median_ms": float(words[words.index("median") + 1]),
                "rtt_p10_ms": float(words[words.index("p10") + 1]), "rtt_p90_ms": float(words[words.index("p90") + 1])}
    finally:
        relay.kill()
        echo.kill()


def run_one(group, topology, workdir: Path, system: str, throughput: int, warmup_s: float, window_s: float,
            **kwargs) -> dict:
    """``kafka_peer.run_one`` with the cluster's nodes in their namespaces."""
    def factory(group_, workdir_, system_, **options):
        return NamespacedCluster(group_, workdir_, system_, topology, **options)
    return kafka_peer.run_one(group, workdir, system, throughput, warmup_s, window_s, cluster_factory=factory,
                              **kwargs)


def _fmt(v, digits=0) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "—"
    return f"{v:,.{digits}f}"


def _spread(values, digits=0) -> str:
    values = [v for v in values if v is not None and not (isinstance(v, float) and math.isnan(v))]
    if not values:
        return "—"
    if len(values) == 1:
        return _fmt(values[0], digits)
    return f"{_fmt(statistics.median(values), digits)} ({_fmt(min(values), digits)}–{_fmt(max(values), digits)})"


def table(runs: list[dict]) -> str:
    """Median (min–max) over the runs of each figure; kraft/Kafka ratios are taken within each run."""
    first = runs[0]
    lines = ["| RTT set (measured, median of runs) | system | committed/s at max load | at latency load: "
             "window p50 / p99 ms | summary line p75 / p99 ms | CPU-s per M at latency load |",
             "|---|---|---|---|---|---|"]
    for rtt in first["rtts"]:
        measured = [c["rtt_median_ms"] for run in runs for c in run["rtts"] if c["rtt_ms"] == rtt["rtt_ms"]]
        for system in first["systems"]:
            rows = [r for run in runs for r in run["rows"] if r["rtt_ms"] == rtt["rtt_ms"] and r["system"] == system]
            top = [r.get("committed_per_s") for r in rows if r["offered_per_s"] == first["max_load"]]
            low = [r for r in rows if r["offered_per_s"] == first["latency_load"]]
            lines.append(f"| {rtt['rtt_ms']} ms ({_spread(measured, 2)}) | {system} | {_spread(top)} | "
                         f"{_spread([r.get('window_p50_ms') for r in low])} / "
                         f"{_spread([r.get('window_p99_ms') for r in low])} | "
                         f"{_spread([r.get('p75_ms') for r in low])} / {_spread([r.get('p99_ms') for r in low])} | "
                         f"{_spread([r.get('cpu_s_per_million') for r in low], 1)} |")
    ratios = []
    for rtt in first["rtts"]:
        per_run = []
        for run in runs:
            rate = {r["system"]: r.get("committed_per_s") for r in run["rows"]
                    if r["rtt_ms"] == rtt["rtt_ms"] and r["offered_per_s"] == first["max_load"]}
            k, f = rate.get("kraft"), rate.get(first["systems"][-1])
            if k and f:
                per_run.append(f"{k / f:.1f}")
        ratios.append(f"{rtt['rtt_ms']} ms: " + " / ".join(per_run))
    lines.append("")
    lines.append("kraft / Kafka committed/s at max load, within each run: " + "; ".join(ratios))
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rtts", default="1,10,50", help="round trips to add, ms")
    parser.add_argument("--kafka", default="4.4.0")
    parser.add_argument("--systems", default=None, help="default: kraft,kafka-<--kafka>")
    parser.add_argument("--latency-load", type=int, default=20_000)
    parser.add_argument("--max-load", type=int, default=320_000)
    parser.add_argument("--linger-ms", type=int, default=None, help="controller.quorum.append.linger.ms (default 25)")
    parser.add_argument("--warmup", type=float, default=3.0)
    parser.add_argument("--window", type=float, default=6.0)
    parser.add_argument("--kafka-latency-warmup", type=float, default=kafka_peer.LONG_WARMUP_S,
                        help="Kafka's warm-up at the latency load (its histogram holds 2 x 30 s)")
    parser.add_argument("--workdir", default=None)
    parser.add_argument("--json", default="distance_results.json")
    parser.add_argument("--from-json", metavar="FILE", nargs="+", help="run nothing: print earlier runs' table")
    args = parser.parse_args(argv)
    if args.from_json:
        print(table([json.loads(Path(f).read_text()) for f in args.from_json]))
        return 0
    if os.geteuid() != 0:
        print("run_distance_bench.py needs root (network namespaces)", file=sys.stderr)
        return 2
    systems = args.systems.split(",") if args.systems else ["kraft", f"kafka-{args.kafka}"]
    stale = leftover()
    if stale:
        log(f"namespaces of an earlier run are still present (not touched): {stale}")
    rtts = [float(x) if "." in x else int(x) for x in args.rtts.split(",")]
    results = {"argv": sys.argv[1:], "started": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
               "load_1m_before": round(os.getloadavg()[0], 2), "systems": systems, "rtts": [], "rows": [],
               "latency_load": args.latency_load, "max_load": args.max_load,
               "delay": "userspace TCP relay per node (delay_relay.py), no netem in this kernel"}
    import tempfile
    workdir = Path(args.workdir or tempfile.mkdtemp(prefix="kraft-distance-"))
    shape = {} if args.linger_ms is None else {"linger_ms": args.linger_ms}
    with Topology(3) as topology, ProcessGroup() as group:
        log(f"namespaces {topology.hub} (bridge), {', '.join(topology.nodes)}")
        for rtt in rtts:
            one_way = rtt / 2.0
            calibration = measure_rtt(group, topology, one_way)
            results["rtts"].append({"rtt_ms": rtt, "one_way_ms": one_way, **calibration})
            log(f"RTT {rtt} ms set: measured {calibration}")
            relays = start_relays(group, topology, one_way)
            try:
                time.sleep(1.0)
                for system in systems:
                    for load in (args.latency_load, args.max_load):
                        # Kafka's summary line covers 2 x 30 s from its start: read it after those at the latency load
                        warmup = args.kafka_latency_warmup if system != "kraft" and load == args.latency_load \
                            else args.warmup
                        row = run_one(group, topology, workdir, system, load, warmup, args.window, **shape)
                        row["rtt_ms"] = rtt
                        results["rows"].append(row)
            finally:
                for relay in relays:
                    relay.kill()
    results["load_1m_after"] = round(os.getloadavg()[0], 2)
    Path(args.json).write_text(json.dumps(results, indent=1, default=str))
    print(table([results]))
    print(f"\nload average before {results['load_1m_before']}, after {results['load_1m_after']}; "
          f"results in {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
