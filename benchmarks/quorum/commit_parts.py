"""What a commit at linger 0–1 ms is made of, and what each request and record costs (issue 17).

    python benchmarks/quorum/commit_parts.py [--settings 1:5000,1:20000,0:5000,0:20000]
        [--cost-steps 1000,20000,80000,320000] [--window 8] [--json FILE]

Three parts, each printed as a markdown table with the load average at the time:

* **fsync on this disk**: ``os.write`` of 4 KiB then ``os.fsync``, ``--fsyncs`` times, on the
  file system that holds the nodes' logs; alone, then three writers at once (three nodes share
  this disk), p50 / p90 / p99 / p99.9 / max.  And the loopback round trip of a 64-byte message
  between two processes (p50 / p99), the other floor of a commit.
* **a commit's parts**, per ``linger:offered`` setting: three kraft nodes (``kraft_node.py``,
  the leader's flush in the background, as shipped); over ``--window`` seconds, the commit latency
  of every record (p50 / p99), every ``fsync`` of every node as the kernel saw it (``perf trace``:
  the leader's flush thread and the followers' fsync before their next Fetch), and how long each
  node's threads waited for a CPU each time they woke (``/proc/<pid>/task/*/schedstat``: run-queue
  time over time slices).  A record's commit waits for its batch (the linger), the leader's append,
  the parked Fetch answered (half a round trip), the follower's append and fsync, the follower's
  next Fetch (the other half) and the leader's high-watermark step; each hop is a wake-up of a
  process that may wait for a CPU.
* **cost per request and per record**, per offered step in ``--cost-steps``: every system call of
  every node counted (``perf trace -s``), CPU-seconds of each node from ``/proc``, the Fetch requests
  (the followers' ``fsync`` calls: one per Fetch that brought records) and the records committed;
  and every node's wake-ups (schedstat time slices); CPU per Fetch round, per wake-up and per
  record, and a least-squares line over the steps: CPU = a fixed part per second + a part per record.

``perf`` (``linux-tools``) must be installed and usable by the caller (root, or
``kernel.perf_event_paranoid`` low enough); the fsync and round-trip parts need nothing.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from kafka_peer import PeerCluster, _spread, cpu_seconds, log, new_results, run_saving, save  # noqa: E402
from quorum_common import WindowStats, now_ms  # noqa: E402


def percentiles(values: list[float]) -> dict:
    """p50 / p90 / p99 / p99.9 / max of ``values`` (nearest rank), rounded to 3 digits."""
    ordered = sorted(values)
    if not ordered:
        return {}

    def rank(q):
        return ordered[min(len(ordered) - 1, max(0, int(round(q * len(ordered))) - 1))]
    return {"n": len(ordered), "p50": round(rank(0.5), 3), "p90": round(rank(0.9), 3), "p99": round(rank(0.99), 3),
            "p999": round(rank(0.999), 3), "max": round(ordered[-1], 3)}


# ------------------------------------------------------------------ floors: fsync and round trip
def fsync_times(directory: Path, count: int, size: int = 4096) -> list[float]:
    """ms of each ``os.fsync`` after an ``os.write`` of ``size`` bytes, appending to one new file."""
    path = Path(tempfile.mkstemp(dir=directory, prefix="fsync-")[1])
    fd = os.open(path, os.O_WRONLY | os.O_APPEND)
    data = b"\xab" * size
    times = []
    try:
        for _ in range(count):
            os.write(fd, data)
            t0 = time.perf_counter()
            os.fsync(fd)
            times.append((time.perf_counter() - t0) * 1000.0)
    finally:
        os.close(fd)
        path.unlink()
    return times


def fsync_floor(directory: Path, count: int) -> dict:
    alone = fsync_times(directory, count)
    together: list[list[float]] = [[], [], []]
    threads = [threading.Thread(target=lambda i=i: together[i].extend(fsync_times(directory, count)))
               for i in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return {"alone": percentiles(alone), "three_at_once": percentiles([v for t in together for v in t]),
            "load_1m": round(os.getloadavg()[0], 2)}


_ECHO = ("import socket,sys\ns=socket.socket();s.bind(('127.0.0.1',0));s.listen(1)\n"
         "print(s.getsockname()[1],flush=True)\nc,_=s.accept()\nc.setsockopt(socket.IPPROTO_TCP,socket.TCP_NODELAY,1)\n"
         "while True:\n d=c.recv(64)\n if not d: break\n c.sendall(d)\n")


def round_trip_floor(count: int) -> dict:
    """A 64-byte ping-pong over loopback TCP between this process and an echo process."""
    echo = subprocess.Popen([sys.executable, "-c", _ECHO], stdout=subprocess.PIPE, text=True)
    try:
        port = int(echo.stdout.readline())
        with socket.create_connection(("127.0.0.1", port)) as sock:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            times = []
            for _ in range(count):
                t0 = time.perf_counter()
                sock.sendall(b"p" * 64)
                got = 0
                while got < 64:
                    got += len(sock.recv(64 - got))
                times.append((time.perf_counter() - t0) * 1000.0)
    finally:
        echo.kill()
        echo.wait()
    return {**percentiles(times), "load_1m": round(os.getloadavg()[0], 2)}


# ------------------------------------------------------------------ in a running quorum
_TRACE_LINE = re.compile(r"\(\s*([0-9.]+) ms\):.*\bfsync\(")


def start_fsync_trace(pid: int, path: Path) -> subprocess.Popen:
    """``perf trace`` of every fsync of process ``pid`` (all its threads), with durations."""
    return subprocess.Popen(["perf", "trace", "-e", "fsync", "-p", str(pid), "-o", str(path)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def stop(process: subprocess.Popen) -> None:
    process.send_signal(signal.SIGINT)
    try:
        process.wait(30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def fsync_durations(path: Path) -> list[float]:
    try:
        return [float(m.group(1)) for m in map(_TRACE_LINE.search, path.read_text().splitlines()) if m]
    except OSError:
        return []


def sched_totals(pid: int) -> tuple[int, int, int]:
    """(ns on a CPU, ns waiting for one, time slices) summed over the threads of ``pid``."""
    total = [0, 0, 0]
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            values = [int(v) for v in (task / "schedstat").read_text().split()]
        except (OSError, ValueError):
            continue
        for i in range(3):
            total[i] += values[i]
    return total[0], total[1], total[2]


def leader_index(cluster: PeerCluster) -> int:
    return max(range(len(cluster.nodes)), key=lambda i: len(cluster.nodes[i].snapshot_samples()))


def commit_parts(group, workdir: Path, linger: int, offered: int, options) -> dict:
    cluster = PeerCluster(group, workdir / f"parts-{linger}-{offered}-{time.monotonic_ns()}", "kraft",
                          throughput=offered, linger_ms=linger).start()
    traces = {}
    try:
        cluster.measure(options.warmup, 1.0)
        leader = leader_index(cluster)
        roles = {i: ("leader" if i == leader else f"follower-{i + 1}") for i in range(len(cluster.nodes))}
        for i, node in enumerate(cluster.nodes):
            traces[i] = (workdir / f"trace-{linger}-{offered}-{i}.txt", None)
            traces[i] = (traces[i][0], start_fsync_trace(node.pid, traces[i][0]))
        time.sleep(1.0)   # perf attached
        s0 = {i: sched_totals(n.pid) for i, n in enumerate(cluster.nodes)}
        w0, load0 = now_ms(), os.getloadavg()[0]
        time.sleep(options.window)
        w1 = now_ms()
        s1 = {i: sched_totals(n.pid) for i, n in enumerate(cluster.nodes)}
        for _, trace in traces.values():
            stop(trace)
        time.sleep(0.6)
        stats = WindowStats([s for n in cluster.nodes for s in n.snapshot_samples()], w0, w1)
        cluster.check_alive()
    finally:
        for _, trace in traces.values():
            if trace is not None and trace.poll() is None:
                stop(trace)
        cluster.kill()
    seconds = (w1 - w0) / 1000.0
    nodes = {}
    for i, role in roles.items():
        on_cpu, wait, slices = (s1[i][k] - s0[i][k] for k in range(3))
        durations = fsync_durations(traces[i][0])
        nodes[role] = {"fsync_ms": percentiles(durations), "fsyncs_per_s": round(len(durations) / seconds, 1),
                       "cpu_cores": round(on_cpu / seconds / 1e9, 3),
                       "runqueue_wait_per_wakeup_ms": round(wait / max(slices, 1) / 1e6, 3),
                       "wakeups_per_s": round(slices / seconds, 1)}
    followers = [v for k, v in nodes.items() if k != "leader"]
    row = {"linger_ms": linger, "offered_per_s": offered, "committed_records": stats.records,
           "commit_p50_ms": stats.latency(0.5), "commit_p99_ms": stats.latency(0.99), "nodes": nodes,
           "follower_fsync_p50_ms": statistics.median(f["fsync_ms"].get("p50", float("nan")) for f in followers),
           "follower_fsync_p99_ms": statistics.median(f["fsync_ms"].get("p99", float("nan")) for f in followers),
           "load_1m": round(load0, 2)}
    log(f"linger {linger} offered {offered:,}: {json.dumps(row)}")
    return row


def request_costs(group, workdir: Path, offered: int, options) -> dict:
    """CPU per Fetch round and per record at one offered step (every node's syscalls counted)."""
    cluster = PeerCluster(group, workdir / f"cost-{offered}-{time.monotonic_ns()}", "kraft", throughput=offered).start()
    traces = []
    try:
        cluster.measure(options.warmup, 1.0)
        leader = leader_index(cluster)
        for i, node in enumerate(cluster.nodes):
            path = workdir / f"summary-{offered}-{i}.txt"
            traces.append((i, path, start_fsync_trace(node.pid, path)))
        time.sleep(1.0)
        t0, o0, load0 = time.monotonic(), cluster.committed_offset(), os.getloadavg()[0]
        c0 = [cpu_seconds(n.pid) for n in cluster.nodes]
        s0 = [sched_totals(n.pid) for n in cluster.nodes]
        time.sleep(options.window)
        t1, o1 = time.monotonic(), cluster.committed_offset()
        c1 = [cpu_seconds(n.pid) for n in cluster.nodes]
        s1 = [sched_totals(n.pid) for n in cluster.nodes]
        for _, _, trace in traces:
            stop(trace)
        cluster.check_alive()
    finally:
        for _, _, trace in traces:
            if trace.poll() is None:
                stop(trace)
        cluster.kill()
    seconds = t1 - t0
    # fsyncs counted over the trace's own span (a little longer than the window): scale to the window
    fsyncs = {i: len(fsync_durations(path)) for i, path, _ in traces}
    follower_fsyncs = [fsyncs[i] for i in fsyncs if i != leader]
    records = max(o1 - o0, 1)
    cpu = sum(c1) - sum(c0)
    trace_span = seconds + 1.0
    fetch_rounds_per_s = statistics.mean(follower_fsyncs) / trace_span
    row = {"offered_per_s": offered, "committed_per_s": round(records / seconds, 1),
           "cpu_cores_all_nodes": round(cpu / seconds, 3), "cpu_s_per_million": round(cpu / records * 1e6, 3),
           "fetch_rounds_per_s_per_follower": round(fetch_rounds_per_s, 1),
           "leader_fsyncs_per_s": round(fsyncs[leader] / trace_span, 1),
           "records_per_fetch_round": round(records / seconds / max(fetch_rounds_per_s, 1e-9), 1),
           "cpu_us_per_fetch_round_all_nodes": round(cpu / seconds / max(fetch_rounds_per_s, 1e-9) * 1e6, 1),
           "leader_wakeups_per_s": round((s1[leader][2] - s0[leader][2]) / seconds, 1),
           "wakeups_per_s_all_nodes": round(sum(s1[i][2] - s0[i][2] for i in range(len(s0))) / seconds, 1),
           "cpu_us_per_wakeup_all_nodes": round(cpu / max(sum(s1[i][2] - s0[i][2] for i in range(len(s0))), 1) * 1e6, 1),
           "load_1m": round(load0, 2)}
    log(f"cost at {offered:,}/s: {json.dumps(row)}")
    return row


def split_costs(rows: list[dict]) -> dict:
    """Least squares over the steps: CPU cores (all nodes) = fixed + per_record x committed records/s.
    ``fixed`` is what the three nodes burn each second whatever the load (timers, the workload's
    pacing, Fetch rounds, fsyncs, the benchmark's sample lines); it is what makes CPU per record fall."""
    xs = [(r["committed_per_s"], r["cpu_cores_all_nodes"]) for r in rows]
    if len(xs) < 2:
        return {}
    mx = sum(x for x, _ in xs) / len(xs)
    my = sum(y for _, y in xs) / len(xs)
    sxx = sum((x - mx) ** 2 for x, _ in xs)
    if sxx == 0:
        return {}
    slope = sum((x - mx) * (y - my) for x, y in xs) / sxx
    return {"fixed_cores": round(my - slope * mx, 3), "us_per_record": round(slope * 1e6, 3)}


def report(results: dict) -> None:
    if "floor" in results:
        f = results["floor"]
        print("\n### floors on this machine\n")
        print("| | n | p50 | p90 | p99 | p99.9 | max ms | load |\n|---|---|---|---|---|---|---|---|")
        for key, label in (("alone", "write 4 KiB + fsync, one writer"), ("three_at_once", "the same, three writers at once")):
            p = f["fsync"][key]
            print(f"| {label} | {p['n']} | {p['p50']} | {p['p90']} | {p['p99']} | {p['p999']} | {p['max']} | "
                  f"{f['fsync']['load_1m']} |")
        r = f["round_trip"]
        print(f"| loopback TCP round trip, 64 B, two processes | {r['n']} | {r['p50']} | {r['p90']} | {r['p99']} | "
              f"{r['p999']} | {r['max']} | {r['load_1m']} |")
    if results.get("parts"):
        print("\n### a commit's parts (median (min–max) over rounds)\n")
        print("| linger, offered | commit p50 / p99 ms | follower fsync in the quorum p50 / p99 ms | leader's fsync "
              "p50 / p99 ms | wait for a CPU per wake-up, leader / follower ms | wake-ups/s leader / follower | load |")
        print("|---|---|---|---|---|---|---|")
        keys = sorted({(r["linger_ms"], r["offered_per_s"]) for r in results["parts"]}, key=lambda k: (-k[0], k[1]))
        for linger, offered in keys:
            rows = [r for r in results["parts"] if (r["linger_ms"], r["offered_per_s"]) == (linger, offered)]
            fol = [[v for k, v in r["nodes"].items() if k != "leader"][0] for r in rows]
            lead = [r["nodes"]["leader"] for r in rows]
            print(f"| {linger} ms, {offered:,}/s | {_spread([r['commit_p50_ms'] for r in rows])} / "
                  f"{_spread([r['commit_p99_ms'] for r in rows])} | {_spread([r['follower_fsync_p50_ms'] for r in rows])} / "
                  f"{_spread([r['follower_fsync_p99_ms'] for r in rows])} | "
                  f"{_spread([x['fsync_ms'].get('p50') for x in lead])} / {_spread([x['fsync_ms'].get('p99') for x in lead])} | "
                  f"{_spread([x['runqueue_wait_per_wakeup_ms'] for x in lead])} / "
                  f"{_spread([x['runqueue_wait_per_wakeup_ms'] for x in fol])} | "
                  f"{_spread([x['wakeups_per_s'] for x in lead])} / {_spread([x['wakeups_per_s'] for x in fol])} | "
                  f"{_spread([r['load_1m'] for r in rows])} |")
    if results.get("costs"):
        print("\n### cost per Fetch round and per record (median (min–max) over rounds)\n")
        print("| offered/s | committed/s | CPU cores, all nodes | CPU-s per million | Fetch rounds/s per follower "
              "| records per Fetch round | CPU µs per Fetch round, all nodes | wake-ups/s, all nodes (leader) "
              "| CPU µs per wake-up | load |")
        print("|---|---|---|---|---|---|---|---|---|---|")
        for offered in sorted({r["offered_per_s"] for r in results["costs"]}):
            rows = [r for r in results["costs"] if r["offered_per_s"] == offered]
            print(f"| {offered:,} | " + " | ".join(_spread([r.get(k) for r in rows]) for k in (
                "committed_per_s", "cpu_cores_all_nodes", "cpu_s_per_million", "fetch_rounds_per_s_per_follower",
                "records_per_fetch_round", "cpu_us_per_fetch_round_all_nodes")) +
                f" | {_spread([r.get('wakeups_per_s_all_nodes') for r in rows])} "
                f"({_spread([r.get('leader_wakeups_per_s') for r in rows])}) | "
                f"{_spread([r.get('cpu_us_per_wakeup_all_nodes') for r in rows])} | {_spread([r['load_1m'] for r in rows])} |")
        splits = [split_costs([r for r in results["costs"] if r.get("round") == k])
                  for k in sorted({r.get("round") for r in results["costs"]})]
        splits = [s for s in splits if s]
        if splits:
            print(f"\nleast squares over the steps, each round: CPU cores (all nodes) = "
                  f"{_spread([s['fixed_cores'] for s in splits])} fixed + "
                  f"{_spread([s['us_per_record'] for s in splits])} µs per committed record")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--parts", default="floor,parts,costs")
    parser.add_argument("--settings", default="1:5000,1:20000,0:5000,0:20000", help="linger_ms:offered/s pairs")
    parser.add_argument("--cost-steps", default="1000,20000,80000,320000")
    parser.add_argument("--fsyncs", type=int, default=1000)
    parser.add_argument("--round-trips", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--warmup", type=float, default=3.0)
    parser.add_argument("--window", type=float, default=8.0)
    parser.add_argument("--json", default="commit_parts.json")
    parser.add_argument("--from-json", metavar="FILE")
    options = parser.parse_args(argv)
    if options.from_json:
        report(json.loads(Path(options.from_json).read_text()))
        return 0
    parts = options.parts.split(",")
    if ("parts" in parts or "costs" in parts) and shutil.which("perf") is None:
        print("perf is not installed: the parts and costs need perf trace", file=sys.stderr)
        return 2
    results = new_results(parts=[], costs=[])

    def rounds(group, workdir):
        if "floor" in parts:
            results["floor"] = {"fsync": fsync_floor(workdir, options.fsyncs),
                                "round_trip": round_trip_floor(options.round_trips)}
            log(f"floors: {json.dumps(results['floor'])}")
        for round_ in range(options.repeats):
            if "parts" in parts:
                for setting in options.settings.split(","):
                    linger, offered = (int(v) for v in setting.split(":"))
                    results["parts"].append({**commit_parts(group, workdir, linger, offered, options), "round": round_})
            if "costs" in parts:
                for offered in (int(v) for v in options.cost_steps.split(",")):
                    results["costs"].append({**request_costs(group, workdir, offered, options), "round": round_})
            save(results, options.json)
    status = run_saving(results, options.json, "kraft-commit-parts-", rounds)
    if status:
        return status
    report(results)
    print(f"\nload average before {results['load_1m_before']}, after {results['load_1m_after']}; results in {options.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
