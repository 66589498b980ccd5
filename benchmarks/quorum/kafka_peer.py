"""Kafka's own ``kafka.tools.TestRaftServer`` as a peer in the whole-quorum benchmark (issue 17).

    python benchmarks/quorum/kafka_peer.py [--repeats 3] [--steps 20000,80000,...] [--json FILE]

Runs kraft's test server and Kafka's TestRaftServer (three nodes each, from
the Maven jars in ``~/.cache/kraft/kafka-<version>``) one after the other at
every offered load, on the same machine, with the same work, and prints them
side by side.  Kafka 4.4.0 honours ``--throughput`` and ``--record-size``;
3.9.2 always offers 20,000 x 256 B, so it runs once per repeat at that load.

Both systems are measured the same way, from outside:

* committed records/s: the log end offsets of the three nodes' segment files
  (the same format on both sides) read at the start and at the end of the
  window; the median of the three (what a majority holds) counts as committed;
* commit latency: the leader's own summary line, Kafka's format on both sides
  ``Throughput (bytes/second): X, Latency (ms): A p75 B p99 C p999``
  (1 ms buckets over the run so far, Kafka's 2 x 30 s windows), the last one
  printed in the window;
* CPU: utime + stime of the three node processes (``/proc/<pid>/stat``) over
  the window, as CPU-seconds per million committed records.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import re
import shutil
import struct
import sys
import tempfile
import time
import uuid
import base64
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1] / "tests" / "interop"))

from quorum_common import ProcessGroup, WindowStats, free_ports, median, now_ms, wait_until  # noqa: E402

RECORD_SIZE = 256
TOPIC_DIR = "__raft_performance_test-0"
MAIN_CLASS = "kafka.tools.TestRaftServer"
#: Kafka 3.9's workload ignores --throughput/--record-size (spec test-server.md §6).
FIXED_LOAD_VERSIONS = ("3.",)
KAFKA_FIXED_LOAD = 20_000
#: A cluster counts as started (and its warm-up begins) once a majority holds more than this many offsets.
STARTED_OFFSET = 100
JVM_OPTIONS = ("-Xmx1g", "-Xms256m", "-XX:+UseParallelGC", "-Djava.net.preferIPv4Stack=true",
               "-Duser.language=en", "-Duser.country=US")
_LOG4J = ("log4j.rootLogger=WARN, stderr\nlog4j.appender.stderr=org.apache.log4j.ConsoleAppender\n"
          "log4j.appender.stderr.Target=System.err\nlog4j.appender.stderr.layout=org.apache.log4j.PatternLayout\n"
          "log4j.appender.stderr.layout.ConversionPattern=[%d] %p %m (%c)%n\n")

# ------------------------------------------------------------------ the summary line
_NUM = r"(NaN|-?[0-9]+(?:[.,][0-9]+)?)"
SUMMARY = re.compile(rf"^Throughput \(bytes/second\): {_NUM}, Latency \(ms\): {_NUM} p75 {_NUM} p99 {_NUM} p999\s*$")


@dataclass(frozen=True)
class Summary:
    """One summary line of a leader (Kafka's TestRaftServer or kraft's test server)."""

    bytes_per_s: float
    p75_ms: float
    p99_ms: float
    p999_ms: float


def _number(text: str) -> float:
    return math.nan if text == "NaN" else float(text.replace(",", "."))


def parse_summary(line: str) -> Optional[Summary]:
    """The figures of a summary line; None for any other line."""
    match = SUMMARY.match(line.strip())
    if match is None:
        return None
    return Summary(*(_number(group) for group in match.groups()))


# ------------------------------------------------------------------ log end offsets from the segment files
#: A record batch's header: baseOffset int64, batchLength int32, ...; lastOffsetDelta int32 at byte 23.
_HEADER = struct.Struct(">qi")
_LAST_OFFSET_DELTA = struct.Struct(">i")


def log_end_offset(log_dir: Path) -> int:
    """The offset after the last complete batch in ``log_dir``'s newest segment (0 when empty)."""
    partition = Path(log_dir) / TOPIC_DIR
    segments = sorted(partition.glob("*.log")) if partition.is_dir() else []
    for segment in reversed(segments):
        end = _segment_end(segment)
        if end is not None:
            return end
    return 0


def _segment_end(path: Path) -> Optional[int]:
    try:
        with open(path, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            position, end = 0, None
            while position + 27 <= size:
                f.seek(position)
                head = f.read(27)
                if len(head) < 27:
                    break
                base, length = _HEADER.unpack_from(head)
                if length <= 0 or position + 12 + length > size:
                    break  # preallocated zeros or a batch still being written
                end = base + _LAST_OFFSET_DELTA.unpack_from(head, 23)[0] + 1
                position += 12 + length
            return end
    except FileNotFoundError:
        return None


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of process ``pid`` (threads included), 0 when it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# ------------------------------------------------------------------ clusters
def new_directory_id() -> str:
    while True:
        text = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not text.startswith("-"):
            return text


def write_configs(workdir: Path, n: int, extra: dict) -> list[Path]:
    workdir.mkdir(parents=True, exist_ok=True)
    ports = free_ports(n)
    voters = ",".join(f"{i + 1}@127.0.0.1:{port}" for i, port in enumerate(ports))
    configs = []
    for i, port in enumerate(ports):
        props = {"node.id": i + 1, "listeners": f"PLAINTEXT://127.0.0.1:{port}",
                 "controller.listener.names": "PLAINTEXT", "controller.quorum.voters": voters,
                 "log.dirs": workdir / f"logs-{i + 1}", **extra}
        config = workdir / f"node-{i + 1}.properties"
        config.write_text("".join(f"{k}={v}\n" for k, v in props.items()))
        configs.append(config)
    return configs


class PeerCluster:
    """``n`` node processes of one system, measured from outside (files, /proc, summary lines)."""

    def __init__(self, group: ProcessGroup, workdir: Path, system: str, *, throughput: int,
                 record_size: int = RECORD_SIZE, linger_ms: Optional[int] = None, voters: int = 3,
                 properties: Optional[dict] = None):
        self.group, self.workdir, self.system = group, workdir, system
        self.throughput, self.record_size = throughput, record_size
        extra = {} if linger_ms is None else {"controller.quorum.append.linger.ms": linger_ms}
        extra.update(properties or {})
        self.configs = write_configs(workdir, voters, extra)
        self.nodes = []

    def argv(self, index: int) -> list[str]:
        config = str(self.configs[index])
        if self.system == "kraft":
            return [sys.executable, str(HERE / "kraft_node.py"), "--config", config, "--throughput",
                    str(self.throughput), "--record-size", str(self.record_size)]
        from kafka_jars import classpath, java
        version = self.system.split("-", 1)[1]
        command = [java() or "java", *JVM_OPTIONS]
        jars = classpath(version).split(os.pathsep)
        if version.startswith(FIXED_LOAD_VERSIONS):
            log4j = self.workdir / "log4j.properties"
            log4j.write_text(_LOG4J)
            jars = [j for j in jars if not Path(j).name.startswith("slf4j-simple")]
            command.append(f"-Dlog4j.configuration=file:{log4j}")
        else:
            command += ["-Dorg.slf4j.simpleLogger.defaultLogLevel=warn",
                        "-Dorg.slf4j.simpleLogger.logFile=System.err"]
        return [*command, "-cp", os.pathsep.join(jars), MAIN_CLASS, "--config", config,
                "--replica-directory-id", new_directory_id(), "--throughput", str(self.throughput),
                "--record-size", str(self.record_size)]

    def start(self) -> "PeerCluster":
        for index in range(len(self.configs)):
            self.nodes.append(self.group.start(f"{self.system}-{index + 1}", self.argv(index), cwd=str(HERE)))
        return self

    def kill(self) -> None:
        for node in self.nodes:
            node.kill()
        shutil.rmtree(self.workdir, ignore_errors=True)
        os.sync()

    def log_dirs(self) -> list[Path]:
        return [self.workdir / f"logs-{i + 1}" for i in range(len(self.configs))]

    def committed_offset(self) -> int:
        """What a majority of the nodes hold on disk (the median log end offset for three)."""
        ends = sorted(log_end_offset(d) for d in self.log_dirs())
        return ends[(len(ends) - 1) // 2] if len(ends) % 2 else ends[len(ends) // 2 - 1]

    def summary_lines(self) -> list[str]:
        return [line for node in self.nodes for line in node.lines(stderr=False) if parse_summary(line)]

    def summaries(self) -> list[Summary]:
        return [parse_summary(line) for line in self.summary_lines()]

    def cpu(self) -> float:
        return sum(cpu_seconds(node.pid) for node in self.nodes)

    def check_alive(self) -> None:
        for node in self.nodes:
            if not node.running:
                raise RuntimeError(f"{node.name} exited with {node.process.returncode}:\n{node.tail()}")

    def measure(self, warmup_s: float, window_s: float, startup_timeout_s: float = 90.0) -> dict:
        # more than the leader's control records (LeaderChange, and in Kafka 4 the bootstrap records)
        if not wait_until(lambda: self.check_alive() or self.committed_offset() > STARTED_OFFSET, startup_timeout_s, 0.2):
            raise RuntimeError(f"{self.system}: nothing committed within {startup_timeout_s:.0f} s\n"
                               + "\n".join(n.tail(10) for n in self.nodes))
        time.sleep(warmup_s)
        t0, o0, c0, w0 = time.monotonic(), self.committed_offset(), self.cpu(), now_ms()
        time.sleep(window_s)
        t1, o1, c1, w1 = time.monotonic(), self.committed_offset(), self.cpu(), now_ms()
        self.check_alive()
        rate = (o1 - o0) / (t1 - t0)
        summaries = self.summaries()
        last = summaries[-1] if summaries else None
        window = {}
        if self.system == "kraft":  # kraft's nodes also report every record's latency (QBENCH lines)
            time.sleep(0.6)
            stats = WindowStats([s for n in self.nodes for s in n.snapshot_samples()], w0, w1)
            window = {"window_p50_ms": stats.latency(0.5), "window_p99_ms": stats.latency(0.99),
                      "window_p999_ms": stats.latency(0.999)}
        return {**window, "summary_lines": self.summary_lines()[-3:], "system": self.system, "offered_per_s": self.throughput, "committed_per_s": round(rate, 1),
                "cpu_s": round(c1 - c0, 2),
                "cpu_s_per_million": round((c1 - c0) / (o1 - o0) * 1e6, 2) if o1 > o0 else math.nan,
                "p75_ms": last.p75_ms if last else math.nan, "p99_ms": last.p99_ms if last else math.nan,
                "p999_ms": last.p999_ms if last else math.nan, "load_1m": round(os.getloadavg()[0], 2)}


def run_one(group: ProcessGroup, workdir: Path, system: str, throughput: int, warmup_s: float, window_s: float,
            cluster_factory=None, **kwargs) -> dict:
    """One fresh cluster of ``system`` at ``throughput`` offered, measured and killed; logs one line.
    ``cluster_factory(group, workdir, system, throughput=..., **kwargs)`` makes the cluster
    (default :class:`PeerCluster`; the distance benchmark passes its namespaced one)."""
    factory = cluster_factory or PeerCluster
    cluster = factory(group, workdir / f"{system}-{throughput}-{time.monotonic_ns()}", system,
                      throughput=throughput, **kwargs).start()
    try:
        result = cluster.measure(warmup_s, window_s)
    except RuntimeError as e:
        result = {"system": system, "offered_per_s": throughput, "error": str(e)[:2000],
                  "load_1m": round(os.getloadavg()[0], 2)}
    finally:
        cluster.kill()
    for key, value in kwargs.items():
        result[key] = value
    log(f"{system} offered {throughput:,}/s {kwargs or ''}: " + ", ".join(
        f"{k} {v}" for k, v in result.items() if k not in ("system", "offered_per_s", "error", "summary_lines")) +
        (f" ERROR {result['error'][:300]}" if "error" in result else ""))
    return result


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# ------------------------------------------------------------------ runs
def throughput_round(group, workdir, steps, main_kafka, warmup_s, window_s, **shape) -> list[dict]:
    """kraft and Kafka at each offered step, alternately; stops after the step kraft falls short at.
    ``shape``: ``record_size`` and ``voters`` for every cluster (defaults 256 and 3)."""
    rows = []
    for offered in steps:
        pair = [run_one(group, workdir, system, offered, warmup_s, window_s, **shape)
                for system in ("kraft", main_kafka)]
        rows.extend(pair)
        if pair[0].get("committed_per_s", 0) < 0.9 * offered:
            break
    return rows


#: Kafka's latency histogram keeps 2 windows of 30 s from the first commit on: only after 60 s has
#: the start-up (JIT warm-up, the throttler's catch-up burst) left it.
LONG_WARMUP_S = 62.0


def latency_round(group, workdir, main_kafka, warmup_s, window_s) -> list[dict]:
    """Linger 25 at 20,000/s: both systems, read after Kafka's start-up has left its histogram;
    linger 1 and 0 at 5,000 and 20,000/s: kraft, exact window percentiles."""
    rows = [run_one(group, workdir, system, 20_000, LONG_WARMUP_S, window_s, linger_ms=25)
            for system in ("kraft", main_kafka)]
    for linger, offered in ((1, 5_000), (1, 20_000), (0, 5_000), (0, 20_000)):
        rows.append(run_one(group, workdir, "kraft", offered, warmup_s, window_s, linger_ms=linger))
    return rows


#: kraft's leader flush in the background (issue 17) or in line, in turn: the within-run ratio.
ASYNC_FLUSH = "kraft.quorum.leader.flush.async"


def flush_round(group, workdir, warmup_s, window_s) -> list[dict]:
    """kraft at linger 0 and 1 ms, 5,000 and 20,000/s, with the leader's flush in the background and
    in line (``kraft.quorum.leader.flush.async`` true / false), one after the other."""
    rows = []
    for linger, offered in ((1, 5_000), (1, 20_000), (0, 5_000), (0, 20_000)):
        for background in ("true", "false"):
            row = run_one(group, workdir, "kraft", offered, warmup_s, window_s, linger_ms=linger,
                          properties={ASYNC_FLUSH: background})
            row["leader_flush_async"] = background == "true"
            rows.append(row)
    return rows


def flush_report(rows: list[dict]) -> list[str]:
    """A markdown table: window p50 / p99 and CPU per million, background against in line, and
    the p99 ratio within each round."""
    out = ["| linger, offered | background flush: p50 / p99 ms | in line: p50 / p99 ms | p99 background / in line, "
           "each round | CPU-s per M, background / in line |", "|---|---|---|---|---|"]
    for linger, offered in ((1, 5_000), (1, 20_000), (0, 5_000), (0, 20_000)):
        cell = {}
        for background in (True, False):
            sel = [r for r in rows if r.get("linger_ms") == linger and r["offered_per_s"] == offered
                   and r.get("leader_flush_async") == background and "error" not in r]
            cell[background] = {k: _spread([r[k] for r in sel])
                                for k in ("window_p50_ms", "window_p99_ms", "cpu_s_per_million")}
        ratios_ = [a["window_p99_ms"] / b["window_p99_ms"]
                   for a in rows for b in rows
                   if a.get("round") == b.get("round") and a.get("linger_ms") == b.get("linger_ms") == linger
                   and a["offered_per_s"] == b["offered_per_s"] == offered
                   and a.get("leader_flush_async") and b.get("leader_flush_async") is False
                   and a.get("window_p99_ms") and b.get("window_p99_ms")]
        out.append(f"| {linger} ms, {offered:,}/s | {cell[True]['window_p50_ms']} / {cell[True]['window_p99_ms']} | "
                   f"{cell[False]['window_p50_ms']} / {cell[False]['window_p99_ms']} | "
                   + " / ".join(f"{r:.2f}" for r in ratios_)
                   + f" | {cell[True]['cpu_s_per_million']} / {cell[False]['cpu_s_per_million']} |")
    return out


EPOCH_LINE = re.compile(r"Leader is now (\d+) in epoch (\d+)")


def leader_epochs(lines) -> list[int]:
    """The distinct epochs, in order, in which a leader became known ("Leader is now N in epoch E")."""
    epochs = sorted({int(m.group(2)) for line in lines for m in [EPOCH_LINE.search(line)] if m})
    return epochs


def extra_elections(epochs: list[int]) -> list[int]:
    """For each leader change, how many elections beyond one it took (epoch gaps beyond one)."""
    return [b - a - 1 for a, b in zip(epochs, epochs[1:])]


def kraft_failover_round(group, workdir, rounds: int) -> dict:
    """SIGKILL kraft's leader ``rounds`` times (run_quorum_bench's procedure, 5,000/s offered)."""
    import dataclasses
    import run_quorum_bench as rqb

    started = []

    class Tracked(rqb.KraftCluster):
        def start_node(self, index):
            node = super().start_node(index)
            started.append(node)
            return node

    cluster = Tracked(group, workdir / "failover", throughput=rqb.FAILOVER_LOAD)
    times = rqb.failover_times(cluster, rounds)
    epochs = leader_epochs(line for node in started for line in node.lines())
    extra = extra_elections(epochs)
    return {"runs_s": times, "median_s": median(times), "min_s": min(times), "max_s": max(times),
            "leader_epochs": epochs, "rounds_needing_more_than_one_election": sum(1 for e in extra if e > 0),
            "load_1m": round(os.getloadavg()[0], 2)}


def profile_kraft(group, workdir, throughput: int, seconds: int, out_dir: Path, linger_ms=None,
                  idle: bool = False, properties: Optional[dict] = None, tag: str = "") -> dict:
    """py-spy (``record --format raw``) on every kraft node for ``seconds`` at ``throughput`` offered;
    returns the leader's and a follower's heaviest leaf and inclusive frames."""
    import subprocess
    cluster = PeerCluster(group, workdir / f"profile-{throughput}-{linger_ms}{tag}", "kraft", throughput=throughput,
                          linger_ms=linger_ms, properties=properties).start()
    out_dir.mkdir(parents=True, exist_ok=True)
    try:
        cluster.measure(3.0, 1.0)
        leader = max(range(len(cluster.nodes)), key=lambda i: len(cluster.nodes[i].snapshot_samples()))
        spies = []
        for i, node in enumerate(cluster.nodes):
            path = out_dir / f"kraft-{throughput}-linger{linger_ms}{tag}-node{i + 1}{'-leader' if i == leader else ''}.txt"
            spies.append((i, path, subprocess.Popen(
                [str(Path(sys.executable).parent / "py-spy"), "record", "--pid", str(node.pid), "--duration", str(seconds), "--rate", "200",
                 "--format", "raw", "--output", str(path), "--nonblocking", *(["--idle"] if idle else [])],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)))
        for _, _, spy in spies:
            spy.wait(seconds + 60)
        rate = cluster.measure(0.0, 1.0)["committed_per_s"]
    finally:
        cluster.kill()
    return {"throughput": throughput, "linger_ms": linger_ms, "idle": idle, "properties": properties or {},
            "committed_per_s_after": rate, "leader": leader + 1,
            "nodes": {str(i + 1): summarize_profile(path) for i, path, _ in spies if path.exists()},
            "load_1m": round(os.getloadavg()[0], 2)}


def summarize_profile(path: Path, top: int = 15) -> dict:
    """Self and inclusive shares of the frames in a py-spy raw (collapsed stacks) file."""
    self_counts: dict[str, int] = {}
    inclusive: dict[str, int] = {}
    total = 0
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack:
            continue
        n = int(count)
        total += n
        frames = [f.split(" (")[0] + " " + f.rsplit("/", 1)[-1].rstrip(")").split(":")[0]
                  for f in stack.split(";")]
        self_counts[frames[-1]] = self_counts.get(frames[-1], 0) + n
        for frame in set(frames):
            inclusive[frame] = inclusive.get(frame, 0) + n

    def share(counts):
        return [(name, round(100.0 * c / total, 1)) for name, c in
                sorted(counts.items(), key=lambda kv: -kv[1])[:top]]
    return {"samples": total, "self_pct": share(self_counts), "inclusive_pct": share(inclusive)}


def _spread(values: list[float]) -> str:
    values = [v for v in values if v is not None and not (isinstance(v, float) and math.isnan(v))]
    if not values:
        return "n/a"
    fmt = (lambda v: f"{v:,.0f}") if max(values) >= 1000 else (lambda v: f"{v:.3g}")
    if len(values) == 1:
        return fmt(values[0])
    return f"{fmt(median(values))} ({fmt(min(values))}–{fmt(max(values))})"


def table(rows: list[dict], keys=("offered_per_s", "linger_ms")) -> str:
    """Median (min–max) over repeats, per system and offered load."""
    groups: dict[tuple, list[dict]] = {}
    for row in rows:
        groups.setdefault((row.get("linger_ms"), row["offered_per_s"], row["system"]), []).append(row)
    out = ["| linger ms | offered/s | system | runs | committed/s | summary line p75 / p99 / p999 ms "
           "| window p50 / p99 / p999 ms | CPU-s per M records | load |",
           "|---|---|---|---|---|---|---|---|---|"]
    for (linger, offered, system), group_rows in sorted(groups.items(), key=lambda kv: (kv[0][0] or -1, kv[0][1], kv[0][2])):
        ok = [r for r in group_rows if "error" not in r]
        lat = " / ".join(_spread([r[k] for r in ok]) for k in ("p75_ms", "p99_ms", "p999_ms"))
        win = " / ".join(_spread([r.get(k) for r in ok]) for k in ("window_p50_ms", "window_p99_ms", "window_p999_ms"))
        out.append(f"| {linger if linger is not None else 'default'} | {offered:,} | {system} | {len(ok)}/{len(group_rows)} | "
                   f"{_spread([r['committed_per_s'] for r in ok])} | {lat} | {win if system == 'kraft' else '—'} | "
                   f"{_spread([r['cpu_s_per_million'] for r in ok])} | "
                   f"{_spread([r['load_1m'] for r in group_rows])} |")
    return "\n".join(out)


def ratios(rows: list[dict], main_kafka: str) -> list[str]:
    """kraft ÷ Kafka committed rate and Kafka ÷ kraft p99, within each round (adjacent runs)."""
    out = []
    for i in range(0, len(rows) - 1):
        a, b = rows[i], rows[i + 1]
        if (a["system"], b["system"]) == ("kraft", main_kafka) and a["offered_per_s"] == b["offered_per_s"] \
                and a.get("linger_ms") == b.get("linger_ms") and "error" not in a and "error" not in b:
            out.append(f"round {a.get('round')}: offered {a['offered_per_s']:,} linger {a.get('linger_ms')}: "
                       f"committed kraft/Kafka {a['committed_per_s'] / max(b['committed_per_s'], 1):.2f}, "
                       f"p99 kraft {a['p99_ms']} vs Kafka {b['p99_ms']} ms")
    return out


def best_per_round(rows: list[dict]) -> dict:
    """{round: {system: highest committed/s over the round's steps}}."""
    best: dict = {}
    for row in rows:
        if "error" not in row:
            per = best.setdefault(row.get("round"), {})
            per[row["system"]] = max(per.get(row["system"], 0.0), row["committed_per_s"])
    return best


def report(results: dict, main_kafka: str, fixed_kafka: str) -> None:
    for part in ("throughput", "latency", "fixed"):
        if results.get(part):
            print(f"\n### {part} (median (min–max) over rounds; figures from a loaded 2-core machine)\n")
            print(table(results[part]))
            print()
            for line in ratios(results[part], main_kafka if part != "fixed" else fixed_kafka):
                print(f"- {line}")
    if results.get("throughput"):
        best = best_per_round(results["throughput"])
        for round_, per in sorted(best.items()):
            k, f = per.get("kraft", 0.0), per.get(main_kafka, 0.0)
            print(f"- round {round_}: best committed/s kraft {k:,.0f}, {main_kafka} {f:,.0f}, "
                  f"ratio {k / f if f else math.nan:.2f}")
    if results.get("flush"):
        print("\n### leader flush in the background against in line (kraft; median (min–max) over rounds)\n")
        for line in flush_report(results["flush"]):
            print(line)
    if "failover" in results:
        f = results["failover"]
        print(f"\n- kraft leader SIGKILL -> next commit, median of {len(f['runs_s'])}: {f['median_s']:.3f} s "
              f"({f['min_s']:.3f}–{f['max_s']:.3f}), rounds needing more than one election: "
              f"{f['rounds_needing_more_than_one_election']}, load {f['load_1m']}")


def new_results(**parts) -> dict:
    """The JSON every run writes: its arguments, start time and load average, and ``parts``."""
    return {"argv": sys.argv[1:], **parts, "started": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
            "load_1m_before": round(os.getloadavg()[0], 2)}


def save(results: dict, json_path) -> None:
    Path(json_path).write_text(json.dumps(results, indent=2, default=str) + "\n")


def run_saving(results: dict, json_path, prefix: str, body) -> int:
    """``body(group, workdir)`` with a fresh directory under /tmp and every process it starts killed
    on any exit; then the load average after it and the JSON saved.  0, or 130 if interrupted."""
    workdir = Path(tempfile.mkdtemp(prefix=prefix, dir="/tmp"))
    try:
        with ProcessGroup() as group:
            body(group, workdir)
    except KeyboardInterrupt:
        log("interrupted; every node process has been killed")
        return 130
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    results["load_1m_after"] = round(os.getloadavg()[0], 2)
    save(results, json_path)
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--steps", default="20000,80000,160000,320000,480000,640000,960000,1280000")
    parser.add_argument("--kafka", default="4.4.0", help="the Kafka version that follows the offered load")
    parser.add_argument("--fixed-kafka", default="3.9.2", help="a Kafka version run at its fixed 20,000 x 256 B")
    parser.add_argument("--warmup", type=float, default=3.0)
    parser.add_argument("--window", type=float, default=8.0)
    parser.add_argument("--parts", default="throughput,latency,fixed,failover")
    parser.add_argument("--failovers", type=int, default=20)
    parser.add_argument("--record-size", type=int, default=RECORD_SIZE, help="throughput part only")
    parser.add_argument("--voters", type=int, default=3, help="throughput part only")
    parser.add_argument("--json", default="kafka_peer_results.json")
    parser.add_argument("--from-json", metavar="FILE", help="run nothing: print an earlier run's tables")
    options = parser.parse_args(argv)
    if options.from_json:
        report(json.loads(Path(options.from_json).read_text()), f"kafka-{options.kafka}",
               f"kafka-{options.fixed_kafka}")
        return 0
    steps = [int(s) for s in options.steps.split(",")]
    parts = options.parts.split(",")
    main_kafka = f"kafka-{options.kafka}"
    results: dict = new_results(throughput=[], latency=[], fixed=[])

    def rounds(group, workdir):
        for round_ in range(options.repeats):
            if "throughput" in parts:
                shape = {k: v for k, v in (("record_size", options.record_size), ("voters", options.voters))
                         if v != {"record_size": RECORD_SIZE, "voters": 3}[k]}
                for row in throughput_round(group, workdir, steps, main_kafka, options.warmup, options.window,
                                            **shape):
                    results["throughput"].append({**row, "round": round_})
            if "latency" in parts:
                for row in latency_round(group, workdir, main_kafka, options.warmup, options.window):
                    results["latency"].append({**row, "round": round_})
            if "flush" in parts:
                for row in flush_round(group, workdir, options.warmup, options.window):
                    results.setdefault("flush", []).append({**row, "round": round_})
            if "fixed" in parts and options.fixed_kafka:
                for system in ("kraft", f"kafka-{options.fixed_kafka}"):
                    row = run_one(group, workdir, system, KAFKA_FIXED_LOAD, options.warmup, options.window)
                    results["fixed"].append({**row, "round": round_})
            save(results, options.json)
        if "profile" in parts:
            where = Path(options.json).with_suffix(".profiles")
            results["profile"] = [profile_kraft(group, workdir, 5_000, 10, where, linger_ms=0, idle=True),
                                  profile_kraft(group, workdir, 480_000, 10, where)]
            log(f"profiles: {json.dumps(results['profile'], indent=1)}")
        if "profile-flush" in parts:
            # on-CPU profiles at 5,000/s, linger 1: the leader's flush in the background, then in line
            where = Path(options.json).with_suffix(".profiles")
            results["profile_flush"] = [
                profile_kraft(group, workdir, 5_000, 10, where, linger_ms=1, properties={ASYNC_FLUSH: value},
                              tag=f"-async-{value}") for value in ("true", "false")]
            log(f"profiles: {json.dumps(results['profile_flush'], indent=1)}")
        if "failover" in parts:
            results["failover"] = kraft_failover_round(group, workdir, options.failovers)
            log(f"kraft failover: {results['failover']}")

    status = run_saving(results, options.json, "kraft-kafka-peer-", rounds)
    if status:
        return status
    report(results, main_kafka, f"kafka-{options.fixed_kafka}")
    print(f"\nload average before {results['load_1m_before']}, after {results['load_1m_after']}; "
          f"results in {options.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
