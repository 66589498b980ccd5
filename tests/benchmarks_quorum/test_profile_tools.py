"""The profiling benchmarks' parsers: py-spy stacks into function groups (profile_ceiling.py), perf
trace lines into fsync durations, percentiles and the fixed + per-record line (commit_parts.py)."""
from __future__ import annotations

import math
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks" / "quorum"))

import commit_parts  # noqa: E402
import profile_ceiling  # noqa: E402

ROOT = "<module> (kraft_node.py:93);main (kraft/tools/test_server.py:209);run (kraft/net/loop.py:37);" \
       "Runner.run (asyncio/runners.py:118)"

#: stacks as py-spy's raw format writes them (captured at the ceiling), with the group each belongs to
STACKS = [
    (ROOT + ";RaftDriver._apply (kraft/server/driver.py:287);apply_output (kraft/core/apply.py:123);"
     "FileReplicatedLog.append_as_leader (kraft/storage/replicated_log.py:443);"
     "FileReplicatedLog._append (kraft/storage/replicated_log.py:459) 465", "log append (validate, stamp, write)"),
    (ROOT + ";Workload.run (kraft/tools/workload.py:199);RaftClient.schedule_append (kraft/client.py:148);"
     "RaftNode.schedule_append (kraft/core/node.py:386);BatchAccumulator.append (kraft/core/accumulator.py:83);"
     "BatchAccumulator._add_spread (kraft/core/accumulator.py:109);record_size (kraft/records/sizes.py:38) 56",
     "accumulator (records into batches)"),
    (ROOT + ";RequestDispatcher._finish (kraft/net/dispatch.py:103);encode_response (kraft/net/messages.py:27);"
     "write_response (kraft/protocol/frames.py:170);_frame (kraft/protocol/frames.py:181);"
     "Output.getvalue (kraft/protocol/codec.py:94) 65", "Fetch response: encode and copy into one buffer"),
    (ROOT + ";_Connection._drain.<locals>.<lambda> (kraft/net/server.py:275);"
     "_Connection._on_handled (kraft/net/server.py:313);_Connection._respond (kraft/net/server.py:320) 101",
     "socket write"),
    ("Thread._bootstrap (threading.py:1002);Thread.run (threading.py:982);"
     "_WorkItem.run (concurrent/futures/thread.py:58) 229", "leader's flush thread: fsync"),
    (ROOT + " 123", "event loop itself (uvloop: polling, callbacks, socket I/O in C)"),
    (ROOT + ";RaftDriver.run (kraft/server/driver.py:263);RaftDriver._apply (kraft/server/driver.py:287);"
     "apply_output (kraft/core/apply.py:130);FileReplicatedLog.flush (kraft/storage/replicated_log.py:559);"
     "LogSegment.flush (kraft/storage/segment.py:221) 90", "fsync on the event loop (segment flush)"),
]


def test_stacks_go_to_their_deepest_group(tmp_path):
    for stack, group in STACKS:
        frames = stack.rpartition(" ")[0].split(";")
        assert profile_ceiling.group_of(frames) == group, stack
    raw = tmp_path / "leader.txt"
    raw.write_text("\n".join(stack for stack, _ in STACKS) + "\n")
    counts, total = profile_ceiling.parse_raw(raw)
    assert total == 465 + 56 + 65 + 101 + 229 + 123 + 90
    assert counts["log append (validate, stamp, write)"] == 465 and counts["socket write"] == 101
    leaves = dict(profile_ceiling.leaf_table(raw))
    assert leaves["FileReplicatedLog._append (kraft/storage/replicated_log.py)"] == round(100 * 465 / total, 1)


def test_perf_trace_lines_give_fsync_durations(tmp_path):
    trace = tmp_path / "trace.txt"
    trace.write_text(
        "     0.000 ( 1.588 ms): python3/19142 fsync(fd: 4)                                  = 0\n"
        "     1.620 ( 0.209 ms): python3/19142 fsync(fd: 4)                                  = 0\n"
        "     1.700 ( 9.000 ms): python3/19142 write(fd: 4, buf: 0x7f, count: 4096)         = 4096\n"
        "     1.866 (12.225 ms): kraft-flush/19150 fsync(fd: 7)                             = 0\n")
    assert commit_parts.fsync_durations(trace) == [1.588, 0.209, 12.225]
    assert commit_parts.fsync_durations(tmp_path / "absent.txt") == []


def test_percentiles_and_the_fixed_plus_per_record_line():
    p = commit_parts.percentiles([float(v) for v in range(1, 1001)])
    assert (p["n"], p["p50"], p["p90"], p["p99"], p["p999"], p["max"]) == (1000, 500, 900, 990, 999, 1000)
    assert commit_parts.percentiles([]) == {}
    rows = [{"committed_per_s": r, "cpu_cores_all_nodes": 0.25 + 2.3e-6 * r} for r in (1_000, 20_000, 80_000, 234_000)]
    split = commit_parts.split_costs(rows)
    assert math.isclose(split["fixed_cores"], 0.25, abs_tol=1e-3)
    assert math.isclose(split["us_per_record"], 2.3, abs_tol=1e-3)
    assert commit_parts.split_costs(rows[:1]) == {}
