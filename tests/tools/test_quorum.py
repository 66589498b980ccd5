"""Real quorums of test-kraft-server-start processes on loopback (issue 7's acceptance tests).

Each test starts its own processes on free ports and kills them at the end.
The waits are bounds, not timing assertions: a slow machine only makes the
tests slower.
"""
from __future__ import annotations

import re
import shutil
import signal
import socket
import struct
import time

import pytest

from kraft.protocol.messages import ApiVersionsResponse
from kraft.records import decode_batches
from kraft.storage.replicated_log import FileReplicatedLog
from kraft.storage.quorum_state import QuorumStateStore

from quorum_util import HIGH_WATERMARK, LEADER, STATS, Quorum

SECOND_SIGNAL = re.compile("Second signal")
FIRST_COMMIT = re.compile(r"First record of epoch (\d+) committed at offset (\d+)")

pytestmark = pytest.mark.integration

WAIT_S = 45


@pytest.fixture
def quorum_factory(tmp_path):
    made = []

    def make(size, **kwargs):
        quorum = Quorum(tmp_path, size, **kwargs)
        made.append(quorum)
        return quorum
    yield make
    for quorum in made:
        quorum.kill_all()


def log_batches(log_dir):
    """(base offset, last offset, epoch, crc) of every batch of a stopped node's log."""
    log = FileReplicatedLog.open(log_dir / "__raft_performance_test-0")
    try:
        out = []
        offset = log.start_offset
        while offset < log.end_offset:
            data = log.read(offset, 1 << 22).records
            for batch in decode_batches(data):
                out.append((batch.base_offset, batch.last_offset, batch.partition_leader_epoch, batch.crc))
                offset = batch.last_offset + 1
        return out
    finally:
        log.close()


def advertised_vote_versions(port):
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(struct.pack(">ihhih", 10, 18, 0, 7, -1))
        size = struct.unpack(">i", s.recv(4, socket.MSG_WAITALL))[0]
        payload = s.recv(size, socket.MSG_WAITALL)
    response = ApiVersionsResponse.decode(payload, 0, 4)
    return next((k.min_version, k.max_version) for k in response.api_keys if k.api_key == 52)


def highest_watermark(node) -> int:
    found = node.stderr.matches(HIGH_WATERMARK)
    return max((int(m.group(1)) for m in found), default=-1)


def wait_for_watermark_above(node, value, timeout=WAIT_S) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        hw = highest_watermark(node)
        if hw > value:
            return hw
        time.sleep(0.2)
    return highest_watermark(node)


def test_one_node_leads_commits_reports_and_resumes_after_restart(quorum_factory, tmp_path):
    quorum = quorum_factory(1, args=("--throughput", "2000", "--record-size", "100"))
    quorum.start()
    node = quorum.nodes[1]
    assert node.stdout.wait_for(STATS, WAIT_S), quorum.diagnostics()
    assert node.stderr.wait_for(LEADER, 1).group(1) == "1"
    assert node.stop() == 0, quorum.diagnostics()

    first = log_batches(quorum.log_dirs[1])
    data = [b for b in first if b[1] > b[0] or b[0] > 0]
    assert len(first) > 10 and data
    epoch_one = QuorumStateStore(quorum.log_dirs[1] / "__raft_performance_test-0" / "quorum-state") \
        .read_election_state().epoch
    meta = (quorum.log_dirs[1] / "meta.properties").read_text()

    node = quorum.restart(1)
    assert node.stdout.wait_for(STATS, WAIT_S), quorum.diagnostics()
    assert node.stop() == 0, quorum.diagnostics()
    second = log_batches(quorum.log_dirs[1])
    assert second[:len(first)] == first
    assert len(second) > len(first) and second[-1][2] > first[-1][2]
    epoch_two = QuorumStateStore(quorum.log_dirs[1] / "__raft_performance_test-0" / "quorum-state") \
        .read_election_state().epoch
    assert epoch_two > epoch_one
    assert (quorum.log_dirs[1] / "meta.properties").read_text() == meta  # same directory id


def test_record_size_is_honoured(quorum_factory):
    quorum = quorum_factory(1, args=("--throughput", "500", "--record-size", "1000"))
    quorum.start()
    assert quorum.nodes[1].stdout.wait_for(STATS, WAIT_S), quorum.diagnostics()
    assert quorum.nodes[1].stop() == 0, quorum.diagnostics()
    log = FileReplicatedLog.open(quorum.log_dirs[1] / "__raft_performance_test-0")
    try:
        data = log.read(0, 1 << 22).records
        sizes = {len(r.value) for b in decode_batches(data) if not b.is_control for r in b}
    finally:
        log.close()
    assert sizes == {1000}


def test_three_nodes_elect_replicate_fail_over_and_catch_up(quorum_factory):
    quorum = quorum_factory(3)
    quorum.start()
    leader = quorum.leader(WAIT_S)
    assert leader is not None, quorum.diagnostics()
    followers = [n for n in quorum.nodes if n != leader]
    for f in followers:
        assert wait_for_watermark_above(quorum.nodes[f], 1000) > 1000, quorum.diagnostics()

    old_epoch = int(quorum.nodes[followers[0]].stderr.matches(LEADER)[-1].group(2))
    marks = {f: len(quorum.nodes[f].stderr) for f in followers}
    quorum.nodes[leader].kill()  # SIGKILL
    new_leaders = set()
    for f in followers:
        match = quorum.nodes[f].stderr.wait_for(LEADER, WAIT_S, start=marks[f])
        while match and int(match.group(2)) <= old_epoch:
            marks[f] += 1
            match = quorum.nodes[f].stderr.wait_for(LEADER, WAIT_S, start=marks[f])
        assert match, quorum.diagnostics()
        new_leaders.add(int(match.group(1)))
    assert len(new_leaders) == 1 and leader not in new_leaders
    new_leader = new_leaders.pop()
    survivor = next(f for f in followers if f != new_leader)
    before = highest_watermark(quorum.nodes[survivor])
    assert wait_for_watermark_above(quorum.nodes[survivor], before) > before, quorum.diagnostics()

    # The old leader comes back as a follower and catches up past what the others had committed.
    target = highest_watermark(quorum.nodes[survivor])
    restarted = quorum.restart(leader)
    assert wait_for_watermark_above(restarted, target) > target, quorum.diagnostics()

    for node in quorum.nodes.values():
        assert node.stop() == 0, quorum.diagnostics()
    logs = {n: log_batches(d) for n, d in quorum.log_dirs.items()}
    shortest = min(len(b) for b in logs.values())
    prefix = min(logs.values(), key=len)[:shortest - 1]
    for batches in logs.values():
        assert batches[:len(prefix)] == prefix
    assert len(prefix) > 100


def test_original_rpc_versions_node_joins_updated_ones(quorum_factory):
    quorum = quorum_factory(3, extra={1: {"kraft.test.rpc.v0.only": "true"}})
    quorum.start()
    assert quorum.leader(WAIT_S) is not None, quorum.diagnostics()
    assert advertised_vote_versions(quorum.ports[0]) == (0, 0)
    assert advertised_vote_versions(quorum.ports[1]) == (0, 2)   # pre-vote (Vote v2) served
    for node_id in (1, 2, 3):
        node = quorum.nodes[node_id]
        if not node.stdout.matches(STATS):
            assert wait_for_watermark_above(node, 1000) > 1000, quorum.diagnostics()
    # Whoever leads, the v0-only node took part: it holds the replicated data.
    assert quorum.nodes[1].stop() == 0, quorum.diagnostics()
    assert len(log_batches(quorum.log_dirs[1])) > 10


def test_bad_clients_do_not_disturb_the_quorum(quorum_factory):
    quorum = quorum_factory(3)
    quorum.start()
    leader = quorum.leader(WAIT_S)
    assert leader is not None, quorum.diagnostics()
    follower = next(n for n in quorum.nodes if n != leader)
    epoch_before = quorum.nodes[follower].stderr.matches(LEADER)[-1].group(2)
    half_open = []
    for port in quorum.ports:
        for payload in (b"\xff\xff\xff\xff garbage", struct.pack(">i", 1 << 30),
                        struct.pack(">ihhih", 10, 12345, 0, 1, -1),       # unknown api key
                        struct.pack(">ihhih", 10, 52, 99, 1, -1),         # unsupported version
                        struct.pack(">i", 100) + b"half"):                # half a frame, then nothing
            s = socket.create_connection(("127.0.0.1", port), timeout=5)
            s.sendall(payload)
            half_open.append(s)
    before = highest_watermark(quorum.nodes[follower])
    assert wait_for_watermark_above(quorum.nodes[follower], before + 1000) > before + 1000, quorum.diagnostics()
    assert all(node.running for node in quorum.nodes.values())
    # No election happened: the follower still follows the same leader in the same epoch.
    last = quorum.nodes[follower].stderr.matches(LEADER)[-1]
    assert (int(last.group(1)), last.group(2)) == (leader, epoch_before)
    for s in half_open:
        s.close()
    for node in quorum.nodes.values():
        assert node.stop() == 0, quorum.diagnostics()


def test_second_signal_exits_at_once(quorum_factory):
    quorum = quorum_factory(3)
    quorum.start()
    leader = quorum.leader(WAIT_S)
    assert leader is not None, quorum.diagnostics()
    for node_id, node in quorum.nodes.items():
        if node_id != leader:
            node.kill()
    # Without followers a graceful resignation waits for its 5 s timeout and exits 0;
    # the second signal cuts it short with status 1.
    node = quorum.nodes[leader]
    node.signal(signal.SIGTERM)
    node.signal(signal.SIGINT)
    assert node.wait(WAIT_S) == 1
    assert "Second signal" in node.stderr_text() or node.stderr.wait_for(SECOND_SIGNAL, 5)


def test_graceful_stop_of_a_lone_leader_exits_zero(quorum_factory):
    quorum = quorum_factory(3)
    quorum.start()
    leader = quorum.leader(WAIT_S)
    assert leader is not None, quorum.diagnostics()
    for node_id, node in quorum.nodes.items():
        if node_id != leader:
            node.kill()
    assert quorum.nodes[leader].stop() == 0, quorum.diagnostics()


def test_follower_whose_log_was_deleted_catches_up(quorum_factory):
    quorum = quorum_factory(3)
    quorum.start()
    leader = quorum.leader(WAIT_S)
    assert leader is not None, quorum.diagnostics()
    follower = next(n for n in quorum.nodes if n != leader)
    assert wait_for_watermark_above(quorum.nodes[follower], 2000) > 2000, quorum.diagnostics()
    assert quorum.nodes[follower].stop() == 0, quorum.diagnostics()
    shutil.rmtree(quorum.log_dirs[follower])

    other = next(n for n in quorum.nodes if n not in (leader, follower))
    target = highest_watermark(quorum.nodes[other])
    restarted = quorum.restart(follower)
    assert wait_for_watermark_above(restarted, target) > target, quorum.diagnostics()
    for node in quorum.nodes.values():
        assert node.stop() == 0, quorum.diagnostics()
    assert log_batches(quorum.log_dirs[follower])[0][0] == 0


def test_new_leader_reports_its_first_commit(quorum_factory):
    quorum = quorum_factory(1)
    quorum.start()
    node = quorum.nodes[1]
    leader = node.stderr.wait_for(LEADER, WAIT_S)
    first = node.stderr.wait_for(FIRST_COMMIT, WAIT_S)
    assert leader and first, quorum.diagnostics()
    assert first.group(1) == leader.group(2) and int(first.group(2)) >= 1  # after the LeaderChange record
    assert node.stop() == 0, quorum.diagnostics()
