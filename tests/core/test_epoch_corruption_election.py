"""End to end on real files and the real core: a follower whose last batch's epoch was raised
on disk (CRC untouched) must not win the next election and so cannot throw away records the
quorum acknowledged.

Three voters in epoch 3: node 1 led and is gone; node 2 holds the 306 records committed by
nodes 1 and 2; node 3 lagged behind, and its last batch's epoch was raised by 1000. Before the
fix node 3 reopened its log with last epoch 1003, asked node 2 for its vote in epoch 4 and got
it (its log looked newer), became leader and made node 2 truncate the 306 records.
"""
import struct

from kraft.core import rpc
from kraft.core.types import ElectionState as CoreElection
from kraft.records import encode_batch
from kraft.storage import FileReplicatedLog, LogConfig
from kraft.storage.quorum_state import ElectionState, QuorumStateStore
from raft_context import RaftContext, endpoints_of
from kraft.client import RaftClient
from kraft.core.config import QuorumConfig
from kraft.core.node import RaftNode
from kraft.core.types import ReplicaKey, Voter, VoterSet
import random

PREFIX_EPOCHS = [1, 1, 2, 3]     # batches of 3 records that every node holds: offsets 0..11
ACKED = 306                       # records of epoch 3 on nodes 1 and 2 only


def write_log(path, epochs_and_counts):
    log = FileReplicatedLog.open(path, LogConfig())
    for epoch, count in epochs_and_counts:
        log.initialize_leader_epoch(epoch)
        log.append_as_leader(encode_batch([b"r%d" % i for i in range(count)], partition_leader_epoch=epoch), epoch)
    log.flush()
    log.close()
    QuorumStateStore(path / "quorum-state").write_election_state(ElectionState(3, leader_id=1))


def node_on_disk(path, node_id):
    log = FileReplicatedLog.open(path, LogConfig())
    stored = QuorumStateStore(path / "quorum-state").read_election_state()
    voters = VoterSet(Voter(ReplicaKey.of(i, None), endpoints_of(i)) for i in (1, 2, 3))
    node = RaftNode(node_id=node_id, cluster_id="test-cluster-id", voters=voters, log=log,
                    rng=random.Random(node_id), config=QuorumConfig(),
                    stored_election=CoreElection(stored.epoch, stored.leader_id), endpoints=endpoints_of(node_id))
    ctx = RaftContext(node, log, RaftClient(node, RaftContext._read))
    ctx._apply(ctx.client.start(0))
    return ctx


def raise_last_epoch(path, by):
    segment = sorted(path.glob("*.log"))[-1]
    data = segment.read_bytes()
    pos = last = 0
    while pos < len(data):
        last = pos
        pos += 12 + struct.unpack_from(">i", data, pos + 8)[0]
    (epoch,) = struct.unpack_from(">i", data, last + 12)
    with open(segment, "r+b") as f:
        f.seek(last + 12)
        f.write(struct.pack(">i", epoch + by))


def test_bumped_epoch_follower_cannot_win_and_acknowledged_records_stay(tmp_path):
    prefix = [(e, 3) for e in PREFIX_EPOCHS]
    write_log(tmp_path / "n2", prefix + [(3, 102)] * 3)
    write_log(tmp_path / "n3", prefix)
    raise_last_epoch(tmp_path / "n3", 1000)

    survivor = node_on_disk(tmp_path / "n2", 2)
    assert survivor.log.end_offset == 12 + ACKED
    bumped = node_on_disk(tmp_path / "n3", 3)

    # node 3 times out and stands in epoch 4
    bumped.advance(2 * bumped.node.config.election_timeout_ms)
    bumped.poll()
    bumped.poll()
    assert bumped.role == "Candidate"
    [request] = [s for s in bumped.take_sent(rpc.VoteRequest) if s.destination == 2]

    survivor.deliver(request.request, source=3)
    assert survivor.response().vote_granted is False
    # the raised epoch was not believed: node 3 lost only the tampered batch
    assert request.request.last_offset_epoch <= 3
    assert bumped.log.last_fetched_epoch() <= 3 and bumped.log.end_offset <= 12
    # without node 2's vote, node 3 (1 of 3 votes) cannot lead; node 2 kept every acknowledged record
    assert bumped.role != "Leader"
    assert survivor.log.end_offset == 12 + ACKED
    survivor.log.close()
    bumped.log.close()
