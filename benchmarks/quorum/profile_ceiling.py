"""Where the time goes at the throughput ceiling (issue 17): py-spy on kraft's leader and a follower.

    python benchmarks/quorum/profile_ceiling.py [--throughput 960000] [--seconds 10] [--repeats 3]
        [--record-size 256] [--linger MS] [--json FILE] [--raw-dir DIR]
    python benchmarks/quorum/profile_ceiling.py --from-raw LEADER.txt [FOLLOWER.txt ...]
    python benchmarks/quorum/profile_ceiling.py --compare copy|sizes|throttle [--repeats 5] [--window 8]

Starts three kraft test-server nodes (``kraft_node.py``, logs fsynced) offered more than they can
commit (default 960,000 x 256 B/s), waits for the warm-up, then records every thread of the leader
and of one follower with ``py-spy record --format raw`` for ``--seconds`` at ``--rate`` Hz (both at
once) while reading their CPU time from ``/proc``.  Each sampled stack is put in the first group
(:data:`GROUPS`, leaf to root) that one of its frames belongs to, and the table gives each group's
share of the node's samples.  py-spy samples only threads that are not idle; a thread inside
``fsync`` counts as busy (it waits for the disk, not the CPU), so the fsync row is time, not CPU,
and the table also gives the node's CPU from ``/proc`` over the same seconds.  Every run is a fresh
cluster; ``--repeats`` runs give medians and spreads.  The sampler itself takes CPU on this machine
(about a tenth of a core at 200 Hz per node), which lowers the committed rate while it runs.

``--compare copy`` (or ``--compare-copy``) profiles nothing: it runs the cluster with Fetch
responses written from the mapped segment (vectored writes, today) and with every response copied
into one buffer first (``kraft_node.py --copy-fetch-responses``, the code before), in turn,
``--repeats`` rounds, and gives committed records/s and CPU per committed record with the ratio
within each round; ``--compare sizes`` does the same for the accumulator's ``record_size`` from the
extension against in Python (``--python-record-size``), ``--compare throttle`` the workload's pacing
against the one that stepped record by record (``--stepping-throttle``).
"""
from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from kafka_peer import PeerCluster, _spread, cpu_seconds, log, new_results, run_saving, save  # noqa: E402
from quorum_common import ProcessGroup  # noqa: E402

#: (group, pattern on one frame "Class.function (path:line)"); a stack goes to the group of its
#: deepest frame that matches any pattern (leaf towards root), so the most specific work wins.
_F = r"^(?:\w+\.)*"
GROUPS: list[tuple[str, str]] = [
    ("fsync on the event loop (segment flush)", _F + r"flush \(.*kraft/storage/segment\.py"),
    ("leader's flush thread: fsync", r"_WorkItem\.run \(.*concurrent/futures/thread\.py"),
    ("leader's flush thread: hand-off, waiting for the GIL", r"_worker \(.*concurrent/futures/thread\.py"),
    ("handing flushes to the thread and back", _F + r"(_flush_in_background|_flush_done|submit) \("),
    ("log append (validate, stamp, write)", _F + r"(_append|append_as_leader|append_as_follower) \(.*kraft/storage/"),
    ("listener: decode committed batches", _F + r"(read_committed_batches|decode_committed) \("),
    ("snapshots of the test server's state", r"\(.*kraft/(tools/snapshots|storage/snapshots)\.py"),
    ("log read and other storage", r"\(.*kraft/storage/"),
    ("Fetch response: encode and copy into one buffer", _F + r"(getvalue|write_response|_frame|encode_response) \("),
    ("socket write", _F + r"(_respond|write|writelines) \(.*kraft/net/"),
    ("workload: schedule appends, commit stats", r"\(.*kraft/tools/(workload|perf_stats)\.py"),
    ("accumulator (records into batches)", r"\(.*kraft/(core/accumulator|records/sizes)\.py"),
    ("request framing, decode, dispatch", r"\(.*kraft/(net/(?!loop)|handlers/|protocol/)"),
    ("raft core (other)", r"\(.*kraft/(core/|client\.py)"),
    ("server driver (other)", r"\(.*kraft/server/"),
    ("benchmark sample lines (QBENCH)", r"\(.*(kraft_node|quorum_common)\.py"),
    ("event loop itself (uvloop: polling, callbacks, socket I/O in C)", r"Runner\.run \(.*asyncio/runners\.py"),
    ("other", r"."),
]
_COMPILED = [(name, re.compile(pattern)) for name, pattern in GROUPS]


def group_of(frames: list[str]) -> str:
    """The group of one stack (frames root first, as py-spy writes them)."""
    for frame in reversed(frames):
        for name, pattern in _COMPILED[:-1]:
            if pattern.search(frame):
                return name
    return GROUPS[-1][0]


def raw_stacks(path: Path):
    """(frames root first, samples) of each line of a ``py-spy record --format raw`` file."""
    for line in Path(path).read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if stack and count.isdigit():
            frames = [f.strip() for f in stack.split(";")]
            if frames and frames[0].startswith(("process ", "thread ")):
                frames = frames[1:]
            yield frames, int(count)


def parse_raw(path: Path) -> tuple[dict[str, int], int]:
    """{group: samples} and the total of a ``py-spy record --format raw`` file."""
    counts: dict[str, int] = {}
    total = 0
    for frames, n in raw_stacks(path):
        name = group_of(frames)
        counts[name] = counts.get(name, 0) + n
        total += n
    return counts, total


def leaf_table(path: Path, top: int = 12) -> list[tuple[str, float]]:
    """The heaviest leaf frames of a raw file, in % of its samples (to refine the groups)."""
    counts: dict[str, int] = {}
    total = 0
    for frames, n in raw_stacks(path):
        leaf = re.sub(r":\d+\)$", ")", frames[-1])
        counts[leaf] = counts.get(leaf, 0) + n
        total += n
    return [(k, round(100.0 * v / total, 1)) for k, v in sorted(counts.items(), key=lambda kv: -kv[1])[:top]]


def sched_times(pid: int) -> dict:
    """{tid: (ns on a CPU, ns runnable but waiting for one)} of every thread (``/proc/.../schedstat``)."""
    out = {}
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            on_cpu, waiting, _ = (int(v) for v in (task / "schedstat").read_text().split())
        except (OSError, ValueError):
            continue
        out[int(task.name)] = (on_cpu, waiting)
    return out


def sched_share(pid: int, before: dict, after: dict, seconds: float) -> dict:
    """Per node over ``seconds``: cores on a CPU and cores' worth of waiting for one, all threads and
    the event loop's thread (the main thread) alone; the rest of the main thread's time it was blocked
    (in the kernel on I/O, or idle)."""
    def delta(tids):
        cpu = sum(after[t][0] - before.get(t, (0, 0))[0] for t in tids if t in after)
        wait = sum(after[t][1] - before.get(t, (0, 0))[1] for t in tids if t in after)
        return round(cpu / seconds / 1e9, 3), round(wait / seconds / 1e9, 3)
    cpu_all, wait_all = delta(list(after))
    cpu_main, wait_main = delta([pid])
    return {"on_cpu_cores": cpu_all, "runqueue_cores": wait_all, "loop_thread_on_cpu": cpu_main,
            "loop_thread_runqueue": wait_main,
            "loop_thread_blocked_or_idle": round(max(0.0, 1.0 - cpu_main - wait_main), 3)}


def disk_stat(path: Path) -> tuple[int, int]:
    """(sectors written, ms the device was busy) of the block device holding ``path``."""
    dev = os.stat(path).st_dev
    try:
        fields = Path(f"/sys/dev/block/{os.major(dev)}:{os.minor(dev)}/stat").read_text().split()
    except OSError:
        return 0, 0
    return int(fields[6]), int(fields[9])


def perf_top(path: Path, top: int = 25) -> list[tuple[float, str]]:
    """The heaviest (shared object, symbol) pairs of a ``perf record`` file, self time, % of samples."""
    out = subprocess.run(["perf", "report", "-i", str(path), "--stdio", "--no-children", "--sort", "dso,sym",
                          "--percent-limit", "0.5"], capture_output=True, text=True, timeout=300).stdout
    rows = []
    for line in out.splitlines():
        match = re.match(r"\s+([0-9.]+)%\s+(\S+)\s+\[[.k]\]\s+(.*)$", line)
        if match:
            rows.append((float(match.group(1)), f"{match.group(2)} {match.group(3).strip()}"))
    return rows[:top]


def profile_once(group: ProcessGroup, workdir: Path, options, raw_dir: Path, index: int) -> dict:
    cluster = PeerCluster(group, workdir / f"ceiling-{index}-{time.monotonic_ns()}", "kraft",
                          throughput=options.throughput, record_size=options.record_size,
                          linger_ms=options.linger).start()
    try:
        before = cluster.measure(options.warmup, options.window)
        leader = max(range(len(cluster.nodes)), key=lambda i: len(cluster.nodes[i].snapshot_samples()))
        follower = (leader + 1) % len(cluster.nodes)
        paths, spies, cpu0 = {}, [], {}
        for role, i in (("leader", leader), ("follower", follower)):
            paths[role] = raw_dir / f"ceiling-{options.throughput}-run{index}-{role}.txt"
            cpu0[role] = cpu_seconds(cluster.nodes[i].pid)
            spies.append(subprocess.Popen(
                [str(Path(sys.executable).parent / "py-spy"), "record", "--pid", str(cluster.nodes[i].pid),
                 "--duration", str(options.seconds), "--rate", str(options.rate), "--format", "raw",
                 "--output", str(paths[role]), "--nonblocking"],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        if options.perf:
            paths["perf"] = raw_dir / f"ceiling-{options.throughput}-run{index}-leader.perf.data"
            spies.append(subprocess.Popen(
                ["perf", "record", "-F", "499", "-p", str(cluster.nodes[leader].pid), "-o", str(paths["perf"]),
                 "--", "sleep", str(options.seconds)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        roles = (("leader", leader), ("follower", follower))
        sched0 = {role: sched_times(cluster.nodes[i].pid) for role, i in roles}
        disk0 = disk_stat(workdir)
        t0, load0 = time.monotonic(), os.getloadavg()[0]
        for spy in spies:
            spy.wait(options.seconds + 60)
        elapsed = time.monotonic() - t0
        disk1 = disk_stat(workdir)
        sched = {role: sched_share(cluster.nodes[i].pid, sched0[role], sched_times(cluster.nodes[i].pid), elapsed)
                 for role, i in roles}
        cpu = {role: round((cpu_seconds(cluster.nodes[i].pid) - cpu0[role]) / elapsed, 3) for role, i in roles}
        after = cluster.measure(0.0, options.window)
    finally:
        cluster.kill()
    result = {"run": index, "offered_per_s": options.throughput, "record_size": options.record_size,
              "linger_ms": options.linger, "committed_per_s_before": before["committed_per_s"],
              "committed_per_s_after": after["committed_per_s"], "cpu_s_per_million_before": before["cpu_s_per_million"],
              "cpu_cores": cpu, "sched": sched,
              "disk_write_mb_per_s": round((disk1[0] - disk0[0]) * 512 / elapsed / 1e6, 1),
              "disk_busy_pct": round(100.0 * (disk1[1] - disk0[1]) / 1000.0 / elapsed, 1), "load_1m": round(load0, 2), "load_1m_after": round(os.getloadavg()[0], 2),
              "nodes": {}}
    perf_data = paths.pop("perf", None)
    if perf_data is not None and perf_data.exists():
        result["leader_perf_self_pct"] = perf_top(perf_data)
        perf_data.unlink()
    for role, path in paths.items():
        if path.exists():
            counts, total = parse_raw(path)
            result["nodes"][role] = {"samples": total, "groups": counts, "leaves": leaf_table(path)}
    log(f"run {index}: committed {before['committed_per_s']:,.0f}/s before, {after['committed_per_s']:,.0f}/s "
        f"after the profile; CPU cores {cpu}; {sched}; disk {result['disk_write_mb_per_s']} MB/s written, "
        f"{result['disk_busy_pct']} % busy; load {result['load_1m']}")
    return result


class NodeArgsCluster(PeerCluster):
    """A kraft ``PeerCluster`` whose nodes get extra ``kraft_node.py`` switches."""

    def __init__(self, *args, node_args=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.node_args = list(node_args)

    def argv(self, index: int) -> list[str]:
        return [*super().argv(index), *self.node_args]


def measure_variant(group: ProcessGroup, workdir: Path, options, name: str, node_args: list[str]) -> dict:
    """One fresh cluster at the offered rate, no profiler: committed/s, CPU per record (all nodes and
    the leader alone), disk writes, over ``--window`` seconds after ``--warmup``."""
    cluster = NodeArgsCluster(group, workdir / f"{name}-{time.monotonic_ns()}", "kraft", throughput=options.throughput,
                              record_size=options.record_size, linger_ms=options.linger, node_args=node_args).start()
    try:
        cluster.measure(options.warmup, 1.0)      # started and warm
        leader = max(range(len(cluster.nodes)), key=lambda i: len(cluster.nodes[i].snapshot_samples()))
        pids = [n.pid for n in cluster.nodes]
        t0, o0, d0, load0 = time.monotonic(), cluster.committed_offset(), disk_stat(workdir), os.getloadavg()[0]
        c0 = [cpu_seconds(pid) for pid in pids]
        time.sleep(options.window)
        t1, o1, d1 = time.monotonic(), cluster.committed_offset(), disk_stat(workdir)
        c1 = [cpu_seconds(pid) for pid in pids]
        cluster.check_alive()
    finally:
        cluster.kill()
    committed = max(o1 - o0, 1)
    row = {"variant": name, "offered_per_s": options.throughput, "committed_per_s": round(committed / (t1 - t0), 1),
           "cpu_s_per_million": round(sum(c1) - sum(c0), 3) / committed * 1e6,
           "leader_cpu_us_per_record": round((c1[leader] - c0[leader]) / committed * 1e6, 3),
           "followers_cpu_us_per_record": round(sum(c1[i] - c0[i] for i in range(len(pids)) if i != leader)
                                                / committed * 1e6, 3),
           "disk_write_mb_per_s": round((d1[0] - d0[0]) * 512 / (t1 - t0) / 1e6, 1), "load_1m": round(load0, 2)}
    row["cpu_s_per_million"] = round(row["cpu_s_per_million"], 3)
    log(f"{name}: " + ", ".join(f"{k} {v}" for k, v in row.items() if k != "variant"))
    return row


#: --compare: (today, before) for each change measured at the ceiling.
COMPARISONS = {
    # the response frames written from the segment against copied into one buffer
    "copy": (("vectored", []), ("copied", ["--copy-fetch-responses"])),
    # the accumulator's record_size from the extension against in Python
    "sizes": (("native-sizes", []), ("python-sizes", ["--python-record-size"])),
    # the workload's pacing settling from the last whole millisecond against stepping record by record
    "throttle": (("settling-throttle", []), ("stepping-throttle", ["--stepping-throttle"])),
}
VARIANTS = COMPARISONS["copy"]


def compare_report(rows: list[dict], variants=VARIANTS) -> str:
    out = [f"| figure | {variants[0][0]} (today) | {variants[1][0]} (before) | "
           f"{variants[0][0]} / {variants[1][0]}, each round |", "|---|---|---|---|"]
    for key, label in (("committed_per_s", "committed records/s"),
                       ("cpu_s_per_million", "CPU-s per million committed, all nodes"),
                       ("leader_cpu_us_per_record", "leader CPU µs per committed record"),
                       ("followers_cpu_us_per_record", "followers' CPU µs per committed record (both)"),
                       ("disk_write_mb_per_s", "disk MB/s written")):
        cells = [_spread([r[key] for r in rows if r["variant"] == name]) for name, _ in variants]
        per_round = [a[key] / b[key] for a, b in zip(rows[0::2], rows[1::2]) if b[key]]
        out.append(f"| {label} | {cells[0]} | {cells[1]} | {' / '.join(f'{r:.2f}' for r in per_round)} |")
    out.append("")
    out.append(f"load average at each run: {', '.join(str(r['load_1m']) for r in rows)}")
    return "\n".join(out)


def report(runs: list[dict]) -> str:
    """Markdown: each group's share of the leader's and the follower's samples, median (min–max) over runs."""
    names = [name for name, _ in GROUPS]
    out = ["| where the time goes at the ceiling | leader, % of samples | follower, % of samples |", "|---|---|---|"]
    share = {}
    for role in ("leader", "follower"):
        for name in names:
            share[role, name] = [100.0 * r["nodes"][role]["groups"].get(name, 0) / r["nodes"][role]["samples"]
                                 for r in runs if role in r["nodes"] and r["nodes"][role]["samples"]]
    for name in sorted(names, key=lambda n: -max(share["leader", n] or [0])):
        if any(share[role, name] and max(share[role, name]) >= 0.5 for role in ("leader", "follower")):
            out.append(f"| {name} | {_spread(share['leader', name])} | {_spread(share['follower', name])} |")
    out.append(f"| node CPU from /proc, cores | {_spread([r['cpu_cores']['leader'] for r in runs])} | "
               f"{_spread([r['cpu_cores']['follower'] for r in runs])} |")
    for key, label in (("on_cpu_cores", "on a CPU, all threads, cores (/proc schedstat)"),
                       ("runqueue_cores", "runnable, waiting for a CPU, cores"),
                       ("loop_thread_on_cpu", "event-loop thread: on a CPU, share of wall time"),
                       ("loop_thread_runqueue", "event-loop thread: waiting for a CPU"),
                       ("loop_thread_blocked_or_idle", "event-loop thread: blocked (I/O) or idle")):
        out.append(f"| {label} | {_spread([r['sched']['leader'][key] for r in runs])} | "
                   f"{_spread([r['sched']['follower'][key] for r in runs])} |")
    out.append("")
    out.append(f"disk: {_spread([r['disk_write_mb_per_s'] for r in runs])} MB/s written by the whole machine, "
               f"busy {_spread([r['disk_busy_pct'] for r in runs])} % of the time")
    if any("leader_perf_self_pct" in r for r in runs):
        out.append("")
        out.append("leader, on-CPU only (perf, self time, first run): " + "; ".join(
            f"{pct} % {name}" for pct, name in next(r for r in runs if "leader_perf_self_pct" in r)["leader_perf_self_pct"][:15]))
    out.append("")
    out.append(f"committed/s before the profile: {_spread([r['committed_per_s_before'] for r in runs])}; "
               f"while py-spy ran, after: {_spread([r['committed_per_s_after'] for r in runs])}; "
               f"CPU-s per million (all nodes, before): {_spread([r['cpu_s_per_million_before'] for r in runs])}; "
               f"load {_spread([r['load_1m'] for r in runs])}")
    return "\n".join(out)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--throughput", type=int, default=960_000)
    parser.add_argument("--record-size", type=int, default=256)
    parser.add_argument("--linger", type=int, default=None, help="controller.quorum.append.linger.ms")
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--rate", type=int, default=200)
    parser.add_argument("--warmup", type=float, default=3.0)
    parser.add_argument("--window", type=float, default=3.0)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--no-perf", dest="perf", action="store_false",
                        help="skip the on-CPU profile of the leader with Linux perf (native symbols)")
    parser.add_argument("--json", default="profile_ceiling.json")
    parser.add_argument("--raw-dir", default=None, help="keep py-spy's raw files here (default: next to --json)")
    parser.add_argument("--compare-copy", action="store_const", const="copy", dest="compare",
                        help="no profile: the cluster with Fetch responses written from the segment and with them "
                             "copied into one buffer, in turn, --repeats rounds (same as --compare copy)")
    parser.add_argument("--compare", choices=sorted(COMPARISONS),
                        help="no profile: today's code and the code before one change, in turn: copy (Fetch "
                             "responses), sizes (the accumulator's record_size), throttle (the workload's pacing)")
    parser.add_argument("--from-raw", nargs="+", metavar="FILE", help="run nothing: group these raw files")
    options = parser.parse_args(argv)
    if options.from_raw:
        for path in options.from_raw:
            counts, total = parse_raw(Path(path))
            print(f"\n{path}: {total} samples")
            for name, n in sorted(counts.items(), key=lambda kv: -kv[1]):
                print(f"  {100.0 * n / total:5.1f} %  {name}")
            for leaf, pct in leaf_table(Path(path)):
                print(f"        leaf {pct:5.1f} %  {leaf}")
        return 0
    if options.compare:
        variants = COMPARISONS[options.compare]
        results = new_results(rows=[])

        def rounds(group, workdir):
            for index in range(options.repeats):
                for name, node_args in variants:
                    results["rows"].append({**measure_variant(group, workdir, options, name, node_args), "round": index})
                    save(results, options.json)
        status = run_saving(results, options.json, "kraft-compare-", rounds)
        if not status:
            print(compare_report(results["rows"], variants))
        return status
    if not (Path(sys.executable).parent / "py-spy").exists():
        print("py-spy is not installed next to this Python: pip install py-spy", file=sys.stderr)
        return 2
    if options.perf and shutil.which("perf") is None:
        options.perf = False
    raw_dir = Path(options.raw_dir) if options.raw_dir else Path(options.json).with_suffix(".raw")
    raw_dir.mkdir(parents=True, exist_ok=True)
    results = new_results(runs=[])

    def rounds(group, workdir):
        for index in range(options.repeats):
            results["runs"].append(profile_once(group, workdir, options, raw_dir, index))
            save(results, options.json)
    status = run_saving(results, options.json, "kraft-profile-", rounds)
    if status:
        return status
    print(report(results["runs"]))
    print(f"\nload average before {results['load_1m_before']}, after {results['load_1m_after']}; "
          f"results in {options.json}, raw stacks in {raw_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
