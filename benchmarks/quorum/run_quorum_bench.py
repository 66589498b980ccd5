"""Whole-quorum benchmark: kraft's three-node test server vs a three-node PySyncObj cluster on loopback.

    python benchmarks/quorum/run_quorum_bench.py [--quick] [--json FILE] [--keep-logs] [--plot FILE.png]
    python benchmarks/quorum/run_quorum_bench.py --plot-plan --plot FILE.png
    python benchmarks/quorum/run_quorum_bench.py --from-json FILE --plot FILE.png
    python benchmarks/quorum/run_quorum_bench.py --tls [--tls-runs 3] [--tls-offered 160000]
    python benchmarks/quorum/run_quorum_bench.py --kafka-peer [kafka_peer.py options]   (kraft beside Kafka)

``--plot`` draws commit-latency percentiles and throughput against offered
load for kraft and PySyncObj (matplotlib, the ``bench`` extra); with
``--from-json`` it draws a previous run's results without running anything;
``--plot-plan`` measures more offered rates in shorter windows (about 4 minutes).
``--tls`` measures only kraft's committed rate over PLAINTEXT and over mutual
TLS (test certificates made with the ``openssl`` tool), alternating short runs.

Starts and stops every process itself (all of them are killed at the end, on
Ctrl-C or on error), on free ports of 127.0.0.1, with logs in a temporary
directory on the same disk as /tmp.  Measures, for 256-byte records:

1. kraft: the highest committed records/s the quorum holds — the offered
   ``--throughput`` doubles until the committed rate falls clearly short (below
   90 %) of it; the best committed rate is reported — with the log fsynced as
   Kafka does, and without fsync (a benchmark-only switch, the server has none);
2. kraft: commit latency p50/p99/p999 at 5,000 and 20,000 records/s offered,
   with the default ``controller.quorum.append.linger.ms`` (25) and with 5;
3. kraft: time from SIGKILL of the leader to the next commit (median), with
   the server's defaults and with Kafka's timers (``kraft.quorum.fast.failover=false``);
4. PySyncObj (in memory, no fsync — its normal mode): closed-loop maximum
   committed appends/s, the highest offered rate it holds (open loop, same
   steps rule), latency at the same offered loads, failover time;
5. the ratios, as a markdown table on stdout and a JSON file.

Latency is measured on the leader from the append call to the commit
notification (kraft: per record, as TestRaftServer does, in whole ms; PySyncObj:
submit to commit callback).  Each kraft cluster's logs are removed and the
disk synced after it is killed, so one run's writeback cannot stall the next
run's fsyncs.  A full run takes about 8 minutes, ``--quick`` about 2.5.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import platform
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Optional

from quorum_common import (NodeProcess, ProcessGroup, WindowStats, first_commit_after, free_ports, median,
                           now_ms, wait_until)

HERE = Path(__file__).resolve().parent
PYTHON = sys.executable
RECORD_SIZE = 256
LATENCY_LOADS = (5_000, 20_000)
FAILOVER_LOAD = 5_000
#: The committed rate must reach this fraction of the offered rate for the quorum to "hold" it.
HOLDS_FRACTION = 0.9
STARTUP_TIMEOUT_S = 60.0
FAILOVER_TIMEOUT_S = 30.0
#: kraft's switch (on by default) for finding a new leader sooner than Kafka's timers do.
FAST_FAILOVER_KEY = "kraft.quorum.fast.failover"
#: The workload's log line on a leader change (logging's local asctime, with milliseconds).
LEADER_LINE = re.compile(r"^\[(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3})\] INFO Leader is now (\d+|unknown) in epoch")

# Goals of the issue.
GOAL_THROUGHPUT_RATIO = 10.0
GOAL_P99_DEFAULT_LINGER_MS = 30.0
GOAL_P99_LINGER_5_MS = 10.0
GOAL_FAILOVER_S = 2.5


@dataclass
class Plan:
    """Durations and steps of one run."""

    warmup_s: float
    window_s: float
    kraft_steps: tuple[int, ...]
    kraft_no_fsync_steps: tuple[int, ...]
    pysyncobj_windows: tuple[int, ...]
    pysyncobj_steps: tuple[int, ...]
    failovers: int


FULL = Plan(warmup_s=3.0, window_s=8.0, kraft_steps=(20_000, 40_000, 80_000, 160_000, 320_000, 480_000),
            kraft_no_fsync_steps=(20_000, 40_000, 80_000, 160_000, 320_000, 480_000),
            pysyncobj_windows=(1_000, 4_000, 16_000, 64_000), pysyncobj_steps=(20_000, 40_000, 80_000),
            failovers=10)
QUICK = Plan(warmup_s=2.0, window_s=4.0, kraft_steps=(40_000, 160_000), kraft_no_fsync_steps=(160_000,),
             pysyncobj_windows=(16_000,), pysyncobj_steps=(40_000,), failovers=3)
#: For --plot: short windows, but more offered rates (doubling from 5,000/s), one failover each.
PLOT = Plan(warmup_s=2.0, window_s=4.0,
            kraft_steps=(5_000, 10_000, 20_000, 40_000, 80_000, 160_000, 320_000, 480_000),
            kraft_no_fsync_steps=(40_000, 160_000, 480_000), pysyncobj_windows=(16_000,),
            pysyncobj_steps=(5_000, 10_000, 20_000, 40_000, 80_000), failovers=1)


class BenchError(RuntimeError):
    """A cluster did not do what the benchmark needs (did not start, did not commit)."""


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# ------------------------------------------------------------------ clusters
class Cluster:
    """Three node processes; subclasses say how to start node ``i``."""

    name = "?"

    def __init__(self, group: ProcessGroup):
        self.group = group
        self.nodes: list[Optional[NodeProcess]] = [None, None, None]

    def argv(self, index: int) -> list[str]:
        raise NotImplementedError

    def env(self) -> dict:
        return {}

    def start_node(self, index: int) -> NodeProcess:
        node = self.group.start(f"{self.name}-{index + 1}", self.argv(index), env=self.env(), cwd=str(HERE))
        self.nodes[index] = node
        return node

    def start(self) -> "Cluster":
        for index in range(3):
            self.start_node(index)
        return self

    def kill(self) -> None:
        """Kill every node, then let the disk settle so this run's writeback cannot stall the next one's fsyncs."""
        for node in self.nodes:
            if node is not None:
                node.kill()
        self.discard_logs()
        os.sync()

    def discard_logs(self) -> None:
        """Remove what the nodes wrote to disk (nothing, unless a subclass says otherwise)."""

    def samples(self, exclude: Optional[int] = None):
        out = []
        for index, node in enumerate(self.nodes):
            if node is not None and index != exclude:
                out.extend(node.snapshot_samples())
        return out

    def check_alive(self) -> None:
        for node in self.nodes:
            if node is not None and not node.running:
                raise BenchError(f"{node.name} exited with status {node.process.returncode}:\n{node.tail()}")

    def leader(self) -> Optional[int]:
        """The running node that reported a commit most recently (within the last second)."""
        best, best_ms = None, now_ms() - 1000.0
        for index, node in enumerate(self.nodes):
            if node is None or not node.running:
                continue
            samples = node.snapshot_samples()
            if samples and samples[-1].last_ms > best_ms:
                best, best_ms = index, samples[-1].last_ms
        return best

    def wait_for_commits(self, timeout_s: float = STARTUP_TIMEOUT_S) -> float:
        """Wait for the first commit; return its wall-clock time (ms)."""
        found: list[float] = []

        def committed() -> bool:
            self.check_alive()
            samples = self.samples()
            if samples:
                found.append(min(s.first_ms for s in samples))
                return True
            return False
        if not wait_until(committed, timeout_s, 0.1):
            raise BenchError(f"{self.name}: no commit within {timeout_s:.0f} s\n" + self.diagnostics())
        return found[0]

    def measure(self, warmup_s: float, window_s: float) -> WindowStats:
        """Commits during ``window_s`` seconds starting ``warmup_s`` after the first commit."""
        first = self.wait_for_commits()
        start = max(first, now_ms()) + warmup_s * 1000.0
        end = start + window_s * 1000.0
        while now_ms() < end + 600.0:  # the last interval's line comes up to a quarter second late
            self.check_alive()
            time.sleep(0.1)
        return WindowStats(self.samples(), start, end)

    def diagnostics(self) -> str:
        return "\n".join(f"--- {n.name}\n{n.tail(15)}" for n in self.nodes if n is not None)


class KraftCluster(Cluster):
    name = "kraft"
    #: Keep each cluster's log directories after it is killed (``--keep-logs``).
    keep_logs = False

    def __init__(self, group: ProcessGroup, workdir: Path, *, throughput: int, fsync: bool = True,
                 linger_ms: Optional[int] = None, properties: Optional[dict] = None):
        super().__init__(group)
        self.throughput = throughput
        self.fsync = fsync
        self.configs = []
        self.workdir = workdir
        workdir.mkdir(parents=True, exist_ok=True)
        ports = free_ports(3)
        voters = ",".join(f"{i + 1}@127.0.0.1:{port}" for i, port in enumerate(ports))
        for i, port in enumerate(ports):
            lines = [f"node.id={i + 1}", f"listeners=PLAINTEXT://127.0.0.1:{port}",
                     "controller.listener.names=PLAINTEXT", f"controller.quorum.voters={voters}",
                     f"log.dirs={workdir / f'logs-{i + 1}'}"]
            if linger_ms is not None:
                lines.append(f"controller.quorum.append.linger.ms={linger_ms}")
            lines.extend(f"{key}={value}" for key, value in (properties or {}).items())
            config = workdir / f"node-{i + 1}.properties"
            config.write_text("\n".join(lines) + "\n")
            self.configs.append(config)

    def discard_logs(self) -> None:
        if not self.keep_logs:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def argv(self, index: int) -> list[str]:
        argv = [PYTHON, str(HERE / "kraft_node.py"), "--config", str(self.configs[index]),
                "--throughput", str(self.throughput), "--record-size", str(RECORD_SIZE)]
        if not self.fsync:
            argv.append("--no-fsync")
        return argv

    def summary_lines(self) -> list[str]:
        """The server's own summary lines (Kafka's format), all nodes."""
        return [line for node in self.nodes if node is not None
                for line in node.lines(stderr=False) if line.startswith("Throughput (bytes/second)")]

    def leader_changes(self, exclude: Optional[int] = None) -> list[tuple[float, Optional[int]]]:
        """(wall-clock ms, new leader or None) of every "Leader is now" log line, all nodes but ``exclude``."""
        changes = []
        for index, node in enumerate(self.nodes):
            if node is None or index == exclude:
                continue
            for line in node.lines():
                match = LEADER_LINE.match(line)
                if match:
                    at = datetime.strptime(match.group(1), "%Y-%m-%d %H:%M:%S,%f").timestamp() * 1000.0
                    changes.append((at, None if match.group(2) == "unknown" else int(match.group(2))))
        # "unknown" and the new leader can share a millisecond now that fail-over is quick
        return sorted(changes, key=lambda change: (change[0], -1 if change[1] is None else change[1]))

    def node_ready(self, index: int) -> bool:
        """Whether node ``index`` has learnt who leads since it started."""
        return any("Leader is now " in line and "Leader is now unknown" not in line
                   for line in self.nodes[index].lines())


class PySyncObjCluster(Cluster):
    name = "pysyncobj"

    def __init__(self, group: ProcessGroup, *, rate: Optional[int] = None, window: Optional[int] = None):
        super().__init__(group)
        self.ports = free_ports(3)
        self.load = ["--rate", str(rate)] if rate is not None else ["--window", str(window)]

    def argv(self, index: int) -> list[str]:
        partners = [arg for i, port in enumerate(self.ports) if i != index for arg in ("--partner", str(port))]
        return [PYTHON, str(HERE / "pysyncobj_node.py"), "--port", str(self.ports[index]), *partners,
                *self.load, "--record-size", str(RECORD_SIZE)]

    def node_ready(self, index: int) -> bool:
        """Whether node ``index`` has applied anything since it started."""
        return any(line.startswith("QSTATE ") for line in self.nodes[index].lines(stderr=False))


# ------------------------------------------------------------------ measurements
def run_window(cluster: Cluster, plan: Plan) -> WindowStats:
    cluster.start()
    try:
        return cluster.measure(plan.warmup_s, plan.window_s)
    finally:
        cluster.kill()


def source_revision() -> str:
    """The checkout's commit, "-dirty" with uncommitted changes (figures belong to a revision)."""
    try:
        out = subprocess.run(["git", "-C", str(HERE), "describe", "--always", "--dirty"], capture_output=True,
                             text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return out.stdout.strip() or "unknown"


def load_average() -> float:
    """The machine's 1-minute load average (our own nodes included): other work skews the figures."""
    return round(os.getloadavg()[0], 2)


def step_up(label: str, offered_rates: tuple[int, ...], make_cluster, plan: Plan) -> dict:
    """Offer each rate in turn until the committed rate falls clearly short of it."""
    steps = []
    for offered in offered_rates:
        cluster = make_cluster(offered)
        stats = run_window(cluster, plan)
        step = {"offered_per_s": offered, **stats.as_dict(), "load_1m": load_average()}
        if isinstance(cluster, KraftCluster):
            step["server_summary"] = cluster.summary_lines()[-1:]
        steps.append(step)
        log(f"{label}: offered {offered}/s -> committed {stats.rate:,.0f}/s, p99 {stats.latency(0.99)} ms")
        if stats.rate < HOLDS_FRACTION * offered:
            break
    held = [s for s in steps if s["committed_per_s"] >= HOLDS_FRACTION * s["offered_per_s"]]
    return {"steps": steps, "best_committed_per_s": max(s["committed_per_s"] for s in steps),
            "highest_offered_held_per_s": max((s["offered_per_s"] for s in held), default=None)}


def kraft_max_throughput(group: ProcessGroup, workdir: Path, plan: Plan, *, fsync: bool) -> dict:
    mode = "fsync" if fsync else "nofsync"
    result = step_up(f"kraft {mode}", plan.kraft_steps if fsync else plan.kraft_no_fsync_steps,
                     lambda offered: KraftCluster(group, workdir / f"max-{mode}-{offered}", throughput=offered,
                                                  fsync=fsync), plan)
    return {"fsync": fsync, **result}


def kraft_latency(group: ProcessGroup, workdir: Path, plan: Plan) -> list[dict]:
    results = []
    for linger in (None, 5):
        for offered in LATENCY_LOADS:
            cluster = KraftCluster(group, workdir / f"latency-{linger}-{offered}", throughput=offered,
                                   linger_ms=linger)
            stats = run_window(cluster, plan)
            results.append({"linger_ms": 25 if linger is None else linger, "offered_per_s": offered,
                            **stats.as_dict(), "load_1m": load_average(),
                            "server_summary": cluster.summary_lines()[-1:]})
            log(f"kraft linger {results[-1]['linger_ms']}: {offered}/s -> p50 {stats.latency(0.5)} "
                f"p99 {stats.latency(0.99)} p999 {stats.latency(0.999)} ms, committed {stats.rate:,.0f}/s")
    return results


def _kraft_failover_phases(changes: list[tuple[float, Optional[int]]], killed_at: float) -> Optional[dict]:
    """When the survivors first lost the leader, and first knew the new one, after a kill (s)."""
    after = [(at, leader) for at, leader in changes if at >= killed_at - 1.0]
    unknown = next((at for at, leader in after if leader is None), None)
    elected = next((at for at, leader in after if leader is not None), None)
    if unknown is None or elected is None:
        return None
    return {"leader_unknown_s": (unknown - killed_at) / 1000.0, "elected_s": (elected - killed_at) / 1000.0}


def failover_times(cluster: Cluster, rounds: int, details: Optional[list] = None) -> list[float]:
    """SIGKILL the leader ``rounds`` times; seconds from each kill to the next commit on a survivor.

    For kraft, ``details`` receives when the survivors first saw no leader and
    when they first knew the new one, per round.
    """
    details = [] if details is None else details
    cluster.start()
    times = []
    try:
        cluster.wait_for_commits()
        for round_ in range(rounds):
            if not wait_until(lambda: cluster.leader() is not None, FAILOVER_TIMEOUT_S, 0.05):
                raise BenchError(f"{cluster.name}: no leader committing before round {round_ + 1}\n"
                                 + cluster.diagnostics())
            time.sleep(0.5)  # steady commits before the kill
            victim = cluster.leader()
            if victim is None:
                continue
            killed_at = now_ms()
            cluster.nodes[victim].signal(signal.SIGKILL)
            found: list[float] = []

            def next_commit() -> bool:
                at = first_commit_after(cluster.samples(exclude=victim), killed_at)
                if at is not None:
                    found.append(at)
                return at is not None
            if not wait_until(next_commit, FAILOVER_TIMEOUT_S, 0.05):
                raise BenchError(f"{cluster.name}: no commit within {FAILOVER_TIMEOUT_S:.0f} s of killing "
                                 f"node {victim + 1}\n" + cluster.diagnostics())
            times.append((found[0] - killed_at) / 1000.0)
            phases = ""
            if isinstance(cluster, KraftCluster):
                phases = _kraft_failover_phases(cluster.leader_changes(exclude=victim), killed_at)
                if phases:
                    details.append(phases)
                    phases = (f" (leader unknown after {phases['leader_unknown_s']:.3f} s, "
                              f"elected after {phases['elected_s']:.3f} s)")
            log(f"{cluster.name} failover {round_ + 1}/{rounds}: killed node {victim + 1}, "
                f"next commit after {times[-1]:.3f} s{phases}")
            cluster.nodes[victim].kill()
            cluster.start_node(victim)
            if not wait_until(lambda: cluster.node_ready(victim), FAILOVER_TIMEOUT_S, 0.1):
                raise BenchError(f"{cluster.name}: restarted node {victim + 1} did not rejoin\n"
                                 + cluster.diagnostics())
            time.sleep(1.0)
    finally:
        cluster.kill()
    return times


def failover_summary(times: list[float]) -> dict:
    return {"median_s": median(times), "min_s": min(times), "max_s": max(times), "runs_s": times,
            "offered_per_s": FAILOVER_LOAD}


def kraft_failover(group: ProcessGroup, workdir: Path, plan: Plan, properties: Optional[dict] = None) -> dict:
    phases: list[dict] = []
    cluster = KraftCluster(group, workdir, throughput=FAILOVER_LOAD, properties=properties)
    result = {**failover_summary(failover_times(cluster, plan.failovers, phases)), "properties": properties or {},
              "phases": phases}
    if phases:
        result["median_leader_unknown_s"] = median([p["leader_unknown_s"] for p in phases])
        result["median_elected_s"] = median([p["elected_s"] for p in phases])
    return result


def pysyncobj_max_throughput(group: ProcessGroup, plan: Plan) -> dict:
    steps = []
    for window in plan.pysyncobj_windows:
        stats = run_window(PySyncObjCluster(group, window=window), plan)
        steps.append({"window": window, **stats.as_dict(), "load_1m": load_average()})
        log(f"pysyncobj closed loop, window {window}: committed {stats.rate:,.0f}/s, p99 {stats.latency(0.99)} ms")
    return {"steps": steps, "best_committed_per_s": max(s["committed_per_s"] for s in steps)}


def pysyncobj_open_loop(group: ProcessGroup, plan: Plan) -> dict:
    return step_up("pysyncobj open loop", plan.pysyncobj_steps,
                   lambda offered: PySyncObjCluster(group, rate=offered), plan)


def pysyncobj_latency(group: ProcessGroup, plan: Plan) -> list[dict]:
    results = []
    for offered in LATENCY_LOADS:
        stats = run_window(PySyncObjCluster(group, rate=offered), plan)
        results.append({"offered_per_s": offered, **stats.as_dict(), "load_1m": load_average()})
        log(f"pysyncobj: {offered}/s -> p50 {stats.latency(0.5)} p99 {stats.latency(0.99)} "
            f"p999 {stats.latency(0.999)} ms, committed {stats.rate:,.0f}/s")
    return results


# ------------------------------------------------------------------ report
def _ms(value: float) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    return f"{value:g}"


def _latency_cell(row: Optional[dict]) -> str:
    if row is None:
        return "—"
    cell = f"{_ms(row['p50_ms'])} / {_ms(row['p99_ms'])} / {_ms(row['p999_ms'])}"
    if row["committed_per_s"] < HOLDS_FRACTION * row["offered_per_s"]:
        cell += f" (only {row['committed_per_s']:,.0f}/s committed)"
    return cell


def _rate(value: Optional[float]) -> str:
    return "none of the steps" if value is None else f"{value:,.0f}"


def _ratio(a: float, b: float) -> str:
    return f"{a / b:.1f}×" if b else "n/a"


def markdown_table(results: dict) -> str:
    k_fsync = results["kraft"]["max_fsync"]["best_committed_per_s"]
    k_nofsync = results["kraft"]["max_no_fsync"]["best_committed_per_s"]
    p_max = results["pysyncobj"]["max"]["best_committed_per_s"]
    rows = [
        "| 3 nodes on loopback, 256-byte records | kraft | PySyncObj | kraft / PySyncObj |",
        "|---|---|---|---|",
        f"| max committed records/s (kraft fsynced; PySyncObj closed loop, in memory) | {k_fsync:,.0f} | "
        f"{p_max:,.0f} | {_ratio(k_fsync, p_max)} |",
        f"| max committed records/s (kraft without fsync) | {k_nofsync:,.0f} | {p_max:,.0f} | "
        f"{_ratio(k_nofsync, p_max)} |",
    ]
    k_held = results["kraft"]["max_fsync"]["highest_offered_held_per_s"]
    p_held = results["pysyncobj"]["open_loop"]["highest_offered_held_per_s"]
    rows.append(f"| highest offered records/s held (≥ {HOLDS_FRACTION:.0%} committed; kraft fsynced) | "
                f"{_rate(k_held)} | {_rate(p_held)} | {_ratio(k_held or 0, p_held or 0)} |")
    pso = {r["offered_per_s"]: r for r in results["pysyncobj"]["latency"]}
    for row in results["kraft"]["latency"]:
        offered = row["offered_per_s"]
        p99_ratio = _ratio(pso[offered]["p99_ms"], row["p99_ms"]) if offered in pso else "n/a"
        rows.append(f"| commit latency p50 / p99 / p999 ms at {offered:,}/s offered "
                    f"(kraft linger {row['linger_ms']} ms) | {_latency_cell(row)} | {_latency_cell(pso.get(offered))}"
                    f" | p99: PySyncObj's ÷ kraft's = {p99_ratio} |")
    kf = results["kraft"]["failover"]
    pf = results["pysyncobj"]["failover"]
    rows.append(f"| leader SIGKILL → next commit, median of {len(kf['runs_s'])} (min–max) s | "
                f"{kf['median_s']:.2f} ({kf['min_s']:.2f}–{kf['max_s']:.2f}) | "
                f"{pf['median_s']:.2f} ({pf['min_s']:.2f}–{pf['max_s']:.2f}) | |")
    kk = results["kraft"].get("failover_kafka_timers")
    if kk:
        rows.append(f"| same, kraft with Kafka's timers ({FAST_FAILOVER_KEY}=false) | "
                    f"{kk['median_s']:.2f} ({kk['min_s']:.2f}–{kk['max_s']:.2f}) | | |")
    return "\n".join(rows)


def goals(results: dict) -> list[dict]:
    kraft = results["kraft"]
    p_max = results["pysyncobj"]["max"]["best_committed_per_s"]
    latency = {(r["linger_ms"], r["offered_per_s"]): r for r in kraft["latency"]}
    checks = [
        ("committed throughput >= 10x PySyncObj (fsynced)", kraft["max_fsync"]["best_committed_per_s"] / p_max,
         GOAL_THROUGHPUT_RATIO, ">="),
        ("committed throughput >= 10x PySyncObj (no fsync)", kraft["max_no_fsync"]["best_committed_per_s"] / p_max,
         GOAL_THROUGHPUT_RATIO, ">="),
        ("p99 <= 30 ms at 20,000/s, linger 25", latency[(25, 20_000)]["p99_ms"], GOAL_P99_DEFAULT_LINGER_MS, "<="),
        ("p99 <= 10 ms at 20,000/s, linger 5", latency[(5, 20_000)]["p99_ms"], GOAL_P99_LINGER_5_MS, "<="),
        ("next commit <= 2.5 s after killing the leader (median)", kraft["failover"]["median_s"],
         GOAL_FAILOVER_S, "<="),
    ]
    out = []
    for name, value, target, op in checks:
        met = value >= target if op == ">=" else value <= target
        out.append({"goal": name, "value": round(value, 3), "target": target, "met": bool(met)})
    return out


def run(plan: Plan, workdir: Path) -> dict:
    results: dict = {"kraft": {}, "pysyncobj": {}}
    with ProcessGroup() as group:
        log("kraft: max throughput, fsynced")
        results["kraft"]["max_fsync"] = kraft_max_throughput(group, workdir, plan, fsync=True)
        log("kraft: max throughput, without fsync (benchmark-only switch)")
        results["kraft"]["max_no_fsync"] = kraft_max_throughput(group, workdir, plan, fsync=False)
        log("kraft: latency")
        results["kraft"]["latency"] = kraft_latency(group, workdir, plan)
        log("kraft: failover")
        results["kraft"]["failover"] = kraft_failover(group, workdir / "failover", plan)
        log(f"kraft: failover with Kafka's timers ({FAST_FAILOVER_KEY}=false)")
        results["kraft"]["failover_kafka_timers"] = kraft_failover(group, workdir / "failover-kafka", plan,
                                                                   {FAST_FAILOVER_KEY: "false"})
        log("pysyncobj: max throughput (closed loop)")
        results["pysyncobj"]["max"] = pysyncobj_max_throughput(group, plan)
        log("pysyncobj: highest offered rate held (open loop)")
        results["pysyncobj"]["open_loop"] = pysyncobj_open_loop(group, plan)
        log("pysyncobj: latency")
        results["pysyncobj"]["latency"] = pysyncobj_latency(group, plan)
        log("pysyncobj: failover")
        results["pysyncobj"]["failover"] = failover_summary(failover_times(
            PySyncObjCluster(group, rate=FAILOVER_LOAD), plan.failovers))
    return results


# ------------------------------------------------------------------ --tls: the cost of mutual TLS
def tls_properties(workdir: Path) -> dict:
    """Keys of an mTLS controller listener (named PLAINTEXT here, mapped to SSL), with a test CA and one
    certificate for 127.0.0.1 made by the openssl command-line tool (EC P-256)."""
    openssl = shutil.which("openssl")
    if openssl is None:
        raise BenchError("--tls needs the openssl command-line tool to make certificates")
    workdir.mkdir(parents=True, exist_ok=True)

    def run_openssl(*args):
        subprocess.run([openssl, *args], cwd=workdir, check=True, capture_output=True, timeout=60)
    ec = ("-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes")
    run_openssl("req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.crt", "-subj", "/CN=bench-ca", "-days", "2")
    run_openssl("req", *ec, "-keyout", "node.key", "-out", "node.csr", "-subj", "/CN=node")
    (workdir / "node.ext").write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    run_openssl("x509", "-req", "-in", "node.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial",
                "-out", "node.crt", "-days", "2", "-extfile", "node.ext")
    (workdir / "node.pem").write_text((workdir / "node.key").read_text() + (workdir / "node.crt").read_text())
    return {"listener.security.protocol.map": "PLAINTEXT:SSL", "ssl.keystore.type": "PEM",
            "ssl.keystore.location": str(workdir / "node.pem"), "ssl.truststore.type": "PEM",
            "ssl.truststore.location": str(workdir / "ca.crt"), "ssl.client.auth": "required"}


def tls_comparison(group: ProcessGroup, workdir: Path, plan: Plan, runs: int, offered: int) -> dict:
    """Committed records/s of plaintext and mTLS quorums at one offered rate, alternating, ``runs`` each."""
    props = tls_properties(workdir / "pki")
    rates: dict[str, list[float]] = {"plaintext": [], "tls": []}
    for r in range(runs):
        for mode in ("plaintext", "tls"):
            cluster = KraftCluster(group, workdir / f"tls-{mode}-{r}", throughput=offered,
                                   properties=props if mode == "tls" else None)
            stats = run_window(cluster, plan)
            cluster.discard_logs()
            rates[mode].append(round(stats.rate, 1))
            log(f"{mode} run {r + 1}: offered {offered}/s -> committed {stats.rate:,.0f}/s, "
                f"p99 {stats.latency(0.99)} ms (load {load_average()})")
    medians = {mode: median(values) for mode, values in rates.items()}
    return {"offered_per_s": offered, "runs": rates, "median_committed_per_s": medians,
            "tls_over_plaintext": round(medians["tls"] / medians["plaintext"], 3) if medians["plaintext"] else None,
            "window_s": plan.window_s, "warmup_s": plan.warmup_s}


def _tls_main(options) -> int:
    plan = QUICK
    workdir = Path(tempfile.mkdtemp(prefix="kraft-quorum-bench-tls-", dir="/tmp"))
    load_before = load_average()
    try:
        with ProcessGroup() as group:
            result = tls_comparison(group, workdir, plan, options.tls_runs, options.tls_offered)
    except KeyboardInterrupt:
        log("interrupted; every node process has been killed")
        return 130
    except BenchError as e:
        log(f"benchmark failed: {e}")
        return 1
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    result["meta"] = {"revision": source_revision(), "python": platform.python_version(), "cpus": os.cpu_count(),
                      "load_1m_before": load_before, "load_1m_after": load_average(), "record_size": RECORD_SIZE}
    Path(options.json).write_text(json.dumps({"tls": result}, indent=2) + "\n")
    print("| kraft, 3 nodes, 256-byte records | committed records/s (median) | runs |")
    print("|---|---|---|")
    for mode, label in (("plaintext", "PLAINTEXT"), ("tls", "SSL, mutual TLS")):
        runs = ", ".join(f"{v:,.0f}" for v in result["runs"][mode])
        print(f"| {label} | {result['median_committed_per_s'][mode]:,.0f} | {runs} |")
    print(f"\nTLS / plaintext: {result['tls_over_plaintext']} at {options.tls_offered:,}/s offered; "
          f"1-minute load average {load_before} before, {result['meta']['load_1m_after']} after")
    return 0


def _terminate(signum, frame):
    raise KeyboardInterrupt(f"signal {signum}")


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["--kafka-peer"]:
        # kraft beside Kafka's TestRaftServer (4.4.0 and 3.9.2): kafka_peer.py, its own options follow
        from kafka_peer import main as kafka_peer_main
        return kafka_peer_main(argv[1:])
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a smoke run of about 2 minutes")
    parser.add_argument("--plot-plan", action="store_true",
                        help="short windows at more offered rates, for --plot (about 4 minutes)")
    parser.add_argument("--json", default="quorum_bench_results.json", help="where to write the results")
    parser.add_argument("--keep-logs", action="store_true", help="keep the kraft log directories")
    parser.add_argument("--plot", metavar="FILE.png",
                        help="draw latency percentiles and throughput against offered load (needs matplotlib)")
    parser.add_argument("--from-json", metavar="FILE",
                        help="run nothing: read the results of an earlier run (for --plot)")
    parser.add_argument("--tls", action="store_true",
                        help="only compare kraft over PLAINTEXT and over mutual TLS (alternating short runs)")
    parser.add_argument("--tls-runs", type=int, default=3, help="runs of each mode for --tls (3)")
    parser.add_argument("--tls-offered", type=int, default=160_000,
                        help="records/s offered in the --tls runs (160,000)")
    options = parser.parse_args(argv)
    if options.tls:
        signal.signal(signal.SIGTERM, _terminate)
        return _tls_main(options)
    if options.from_json:
        if not options.plot:
            parser.error("--from-json only makes sense with --plot")
        try:
            results = json.loads(Path(options.from_json).read_text())
        except (OSError, ValueError) as e:
            log(f"cannot read {options.from_json}: {e}")
            return 1
        return _plot(results, options.plot)
    plan = QUICK if options.quick else PLOT if options.plot_plan else FULL
    KraftCluster.keep_logs = options.keep_logs
    signal.signal(signal.SIGTERM, _terminate)
    workdir = Path(tempfile.mkdtemp(prefix="kraft-quorum-bench-", dir="/tmp"))
    started = time.monotonic()
    load_before = load_average()
    try:
        results = run(plan, workdir)
    except KeyboardInterrupt:
        log("interrupted; every node process has been killed")
        return 130
    except BenchError as e:
        log(f"benchmark failed: {e}")
        return 1
    finally:
        if options.keep_logs:
            log(f"logs kept in {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    results["goals"] = goals(results)
    results["meta"] = {"mode": "quick" if options.quick else "plot" if options.plot_plan else "full", "record_size": RECORD_SIZE,
                       "revision": source_revision(), "python": platform.python_version(),
                       "cpus": os.cpu_count(), "plan": plan.__dict__,
                       "duration_s": round(time.monotonic() - started, 1),
                       "load_1m_before": load_before, "load_1m_after": load_average(),
                       "pysyncobj": "PySyncObj defaults: in memory, no journal (no fsync), auto-tick thread",
                       "kraft_no_fsync": "benchmark-only: segment fsync patched out; the server has no switch"}
    Path(options.json).write_text(json.dumps(results, indent=2, default=str) + "\n")
    print(markdown_table(results))
    print()
    for goal in results["goals"]:
        print(f"- {'met' if goal['met'] else 'MISSED'}: {goal['goal']} (measured {goal['value']})")
    for key, label in (("failover", "defaults"), ("failover_kafka_timers", "Kafka's timers")):
        failover = results["kraft"][key]
        if "median_elected_s" in failover:
            print(f"- kraft failover phases, {label} (median): survivors saw no leader after "
                  f"{failover['median_leader_unknown_s']:.2f} s, knew the new leader after "
                  f"{failover['median_elected_s']:.2f} s, next commit after {failover['median_s']:.2f} s")
    loads = [row["load_1m"] for part in ("max_fsync", "max_no_fsync") for row in results["kraft"][part]["steps"]]
    loads += [row["load_1m"] for row in results["kraft"]["latency"]]
    print(f"- machine: {os.cpu_count()} CPUs, 1-minute load average {load_before} before the run and "
          f"{min(loads)}–{max(loads)} during the kraft windows (three nodes of the benchmark included)")
    print(f"\nresults written to {options.json}")
    if options.plot:
        return _plot(results, options.plot)
    return 0


def _plot(results: dict, path: str) -> int:
    from plot import PlotUnavailable, plot_results

    try:
        plot_results(results, path)
    except (PlotUnavailable, ValueError, OSError) as e:
        log(f"cannot plot: {e}")
        return 1
    log(f"plot written to {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
