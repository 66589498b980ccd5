"""AddRaftVoter, RemoveRaftVoter and UpdateRaftVoter at kraft.version 1: Kafka's rules and error codes.

Each rule is Kafka 4.3.1's (AddVoterHandler, RemoveVoterHandler, UpdateVoterHandler, LeaderState,
KafkaRaftClient.handle*VoterRequest); the answers go out where Kafka's do: errors at once, a
change once its Voters record is committed (AddRaftVoter v1 without AckWhenCommitted: once written).
"""
import pytest

from raft_context import CLUSTER, RaftContext, dir_of, endpoints_of, fetch_request, fetch_response, vote_response
from kraft.core import rpc
from kraft.core.effects import ApiVersionsResult, CheckApiVersions, Respond
from kraft.core.memory import encode_batch
from kraft.core.types import Endpoint, Endpoints, ReplicaKey, Voter, VoterSet
from kraft.protocol.uuid import Uuid
ZERO_UUID = Uuid.ZERO
from kraft.core.quorum_state import voter_set_from_record
from kraft.core.voters_record import kraft_version_record, voters_record
from kraft.core.effects import LeaderBatch
from kraft.core.log import OffsetAndEpoch
from kraft.protocol.errors import Errors


def add(voter=2, *, directory=None, listeners=None, cluster=CLUSTER, ack=True, version=0):
    return rpc.AddRaftVoterRequest(cluster_id=cluster, timeout_ms=30_000, voter_id=voter,
                                   voter_directory_id=dir_of(voter) if directory is None else directory,
                                   listeners=endpoints_of(voter) if listeners is None else listeners,
                                   ack_when_committed=ack, api_version=version)


def remove(voter=2, *, directory=None, cluster=CLUSTER):
    return rpc.RemoveRaftVoterRequest(cluster_id=cluster, voter_id=voter,
                                      voter_directory_id=dir_of(voter) if directory is None else directory)


def update(epoch, voter=2, *, listeners=None, low=0, high=1):
    return rpc.UpdateRaftVoterRequest(cluster_id=CLUSTER, current_leader_epoch=epoch, voter_id=voter,
                                      voter_directory_id=dir_of(voter),
                                      listeners=endpoints_of(voter) if listeners is None else listeners,
                                      min_kraft_version=low, max_kraft_version=high)


def leader(voters=(1,), kraft_version=1):
    """Node 1 leading ``voters`` (directory ids set), its epoch's first batch committed, at t=10."""
    ctx = RaftContext.build(local_id=1, voters=voters, voter_dirs=True, kraft_version=kraft_version)
    if len(voters) > 1:
        ctx.become_leader()
        for v in voters[1:]:
            ctx.deliver(fetch_request(ctx.node.epoch, v, offset=ctx.node.end_offset.offset,
                                      last_epoch=ctx.node.epoch, replica_dir=dir_of(v)), source=v)
    ctx.advance(10)
    ctx.poll()
    assert ctx.role == "Leader" and ctx.node.high_watermark == ctx.node.end_offset.offset
    ctx.responses.clear()
    return ctx


def observer_fetch(ctx, replica=2, offset=None):
    """A caught-up fetch from observer ``replica`` (its own directory id)."""
    ctx.advance(5)
    ctx.deliver(fetch_request(ctx.node.epoch, replica, offset=ctx.node.end_offset.offset if offset is None else offset,
                              last_epoch=ctx.node.epoch, replica_dir=dir_of(replica)), source=replica,
                correlation_id=7)
    ctx.responses = [r for r in ctx.responses if r.correlation_id != 7]


def event(ctx, e):
    ctx._apply(ctx.client.step(e, ctx.now))


def checks(ctx):
    return [e for e in ctx.writes if isinstance(e, CheckApiVersions)]


class _Change:
    """A voter change's batch: its offset and the voter set its Voters record holds."""

    def __init__(self, batch):
        self.base_offset = batch.base_offset
        self.voters = voter_set_from_record(batch.control_records[-1])


def voters_batches(ctx):
    """The Voters batches of voter changes (not the start-of-epoch records after a LeaderChange)."""
    return [_Change(b) for b in ctx.leader_batches() if b.control is None and b.control_records]


def test_a_new_leader_writes_kraft_version_and_voters_once_the_log_holds_none():
    ctx = leader(voters=(1, 2, 3))
    change = ctx.leader_batches()[0]
    assert change.control.leader_id == 1 and change.record_count == 3  # in the LeaderChange batch, as Kafka
    version, voters = change.control_records
    assert version.kraft_version == 1
    start = voter_set_from_record(voters)
    assert start.get(1).endpoints == endpoints_of(1) and start.get(1).kraft_versions == (0, 1)
    assert ctx.node.quorum.history.last_offset() == 2
    assert ctx.node.high_watermark == 3  # committed by a majority
    assert not [b for b in ctx.leader_batches()[1:] if b.control_records]


def test_no_epoch_start_voters_at_kraft_version_0():
    ctx = leader(voters=(1, 2, 3), kraft_version=0)
    assert not [b for b in ctx.leader_batches() if b.control_records]


def answer(ctx, request, correlation_id=99):
    ctx.deliver(request, source=-1, correlation_id=correlation_id)
    return ctx.response()


def start_add(ctx, voter=2, **kw):
    observer_fetch(ctx, voter)
    ctx.deliver(add(voter, **kw), source=-1, correlation_id=50)
    assert not ctx.responses
    (check,) = checks(ctx)[-1:]
    assert (check.node_id, check.endpoint) == (voter, endpoints_of(voter).address("CONTROLLER"))
    return check


# ---------------------------------------------------------------- AddRaftVoter
def test_add_voter_writes_the_record_and_answers_once_it_is_committed():
    ctx = leader()
    start_add(ctx)
    event(ctx, ApiVersionsResult(2, Errors.NONE, (0, 1)))
    ctx.poll()
    (batch,) = voters_batches(ctx)
    new = batch.voters
    assert [v.key for v in new.voters()] == [ReplicaKey(1, dir_of(1)), ReplicaKey(2, dir_of(2))]
    assert new.get(2).endpoints == endpoints_of(2) and new.get(2).kraft_versions == (0, 1)
    assert ctx.node.voters.ids == {1, 2}  # in force at once, uncommitted
    assert not ctx.responses  # v0: answered when committed
    hw = ctx.node.high_watermark
    assert hw <= batch.base_offset  # the leader alone no longer commits it: voter 2 must have it
    observer_fetch(ctx, 2, offset=batch.base_offset + 1)
    assert ctx.node.high_watermark == batch.base_offset + 1
    (resp,) = ctx.responses
    assert (resp.correlation_id, resp.response.error_code) == (50, Errors.NONE)


def test_add_voter_v1_without_ack_when_committed_answers_when_written():
    ctx = leader()
    start_add(ctx, ack=False, version=1)
    event(ctx, ApiVersionsResult(2, Errors.NONE, (0, 1)))
    ctx.poll()
    assert len(voters_batches(ctx)) == 1
    (resp,) = ctx.responses
    assert resp.response.error_code == Errors.NONE and resp.response.api_version == 1
    ctx.responses.clear()
    # the change is still in progress until it commits: a second one must wait
    assert answer(ctx, add(3)).error_code == Errors.REQUEST_TIMED_OUT
    observer_fetch(ctx, 2)
    assert not ctx.responses  # answered once only


@pytest.mark.parametrize("request_, error", [
    (add(cluster="another"), Errors.INCONSISTENT_CLUSTER_ID),
    (add(voter=-1), Errors.INVALID_REQUEST),
    (add(directory=ZERO_UUID), Errors.INVALID_REQUEST),
    (add(listeners=Endpoints([Endpoint("OTHER", "h", 1)])), Errors.INVALID_REQUEST),
    (add(voter=1), Errors.DUPLICATE_VOTER),
    (add(voter=1, directory=dir_of(9)), Errors.DUPLICATE_VOTER),  # by id, whatever the directory
], ids=["cluster", "no-voter", "no-directory", "no-controller-listener", "duplicate", "duplicate-id"])
def test_add_voter_refusals(request_, error):
    ctx = leader()
    assert answer(ctx, request_).error_code == error
    assert not checks(ctx) and not voters_batches(ctx)


def test_add_voter_needs_kraft_version_1():
    ctx = leader(kraft_version=0)
    observer_fetch(ctx)
    assert answer(ctx, add()).error_code == Errors.UNSUPPORTED_VERSION


def test_add_voter_not_leader():
    ctx = RaftContext.build(local_id=1, voters=(1, 2, 3), voter_dirs=True, kraft_version=1)
    assert answer(ctx, add(4)).error_code == Errors.NOT_LEADER_OR_FOLLOWER


def test_add_voter_before_the_epoch_commits_asks_to_retry():
    ctx = RaftContext.build(local_id=1, voters=(1, 2, 3), voter_dirs=True, kraft_version=1)
    ctx.become_leader()
    ctx.responses.clear()
    assert ctx.node.high_watermark is None
    assert answer(ctx, add(4)).error_code == Errors.REQUEST_TIMED_OUT


def test_one_change_at_a_time_and_none_while_the_last_is_uncommitted():
    ctx = leader()
    start_add(ctx)
    assert answer(ctx, add(3)).error_code == Errors.REQUEST_TIMED_OUT
    assert answer(ctx, remove(1)).error_code == Errors.REQUEST_TIMED_OUT
    assert answer(ctx, update(ctx.node.epoch, 1)).error_code == Errors.REQUEST_TIMED_OUT
    event(ctx, ApiVersionsResult(2, Errors.NONE, (0, 1)))
    ctx.poll()
    ctx.responses.clear()
    # an UpdateRaftVoter's record is not a pending operation, but it is an uncommitted Voters record
    ctx2 = leader(voters=(1, 2))
    assert answer(ctx2, update(ctx2.node.epoch, 2, listeners=endpoints_of(2, "CONTROLLER"))).error_code == Errors.NONE
    ctx2.poll()
    assert answer(ctx2, remove(2)).error_code == Errors.REQUEST_TIMED_OUT


def test_add_voter_api_versions_error_times_the_request_out():
    ctx = leader()
    start_add(ctx)
    event(ctx, ApiVersionsResult(2, Errors.BROKER_NOT_AVAILABLE))
    (resp,) = ctx.responses
    assert resp.response.error_code == Errors.REQUEST_TIMED_OUT and not voters_batches(ctx)


@pytest.mark.parametrize("versions", [None, (0, 0), (2, 3)])
def test_add_voter_that_cannot_run_the_finalized_kraft_version_is_refused(versions):
    ctx = leader()
    start_add(ctx)
    event(ctx, ApiVersionsResult(2, Errors.NONE, versions))
    (resp,) = ctx.responses
    assert resp.response.error_code == Errors.INVALID_REQUEST and not voters_batches(ctx)


def test_add_voter_that_never_fetched_or_is_behind_is_refused():
    ctx = leader()
    ctx.deliver(add(3), source=-1, correlation_id=50)
    event(ctx, ApiVersionsResult(3, Errors.NONE, (0, 1)))
    (resp,) = ctx.responses
    assert resp.response.error_code == Errors.REQUEST_TIMED_OUT and not voters_batches(ctx)


def test_api_versions_of_another_node_is_ignored():
    ctx = leader()
    start_add(ctx)
    event(ctx, ApiVersionsResult(3, Errors.NONE, (0, 1)))
    assert not ctx.responses and not voters_batches(ctx)


def test_add_voter_times_out_after_the_request_timeout():
    ctx = leader()
    start_add(ctx)
    ctx.advance(ctx.node.config.request_timeout_ms - 1)
    ctx.poll()
    assert not ctx.responses
    ctx.advance(1)
    ctx.poll()
    (resp,) = ctx.responses
    assert resp.response.error_code == Errors.REQUEST_TIMED_OUT
    event(ctx, ApiVersionsResult(2, Errors.NONE, (0, 1)))  # too late
    assert not voters_batches(ctx)


def test_uncommitted_add_times_out_too():
    ctx = leader()
    start_add(ctx)
    event(ctx, ApiVersionsResult(2, Errors.NONE, (0, 1)))
    ctx.poll()
    ctx.advance(ctx.node.config.request_timeout_ms)
    ctx.poll()
    (resp,) = ctx.responses
    assert resp.response.error_code == Errors.REQUEST_TIMED_OUT
    assert ctx.node.voters.ids == {1, 2}  # the record stays in the log; only the answer gave up


# ---------------------------------------------------------------- RemoveRaftVoter
def test_remove_voter_answers_once_committed_by_the_new_set():
    ctx = leader(voters=(1, 2, 3))
    ctx.deliver(remove(3), source=-1, correlation_id=51)
    assert not ctx.responses
    ctx.poll()
    (batch,) = voters_batches(ctx)
    assert batch.voters.ids == {1, 2}
    assert ctx.node.voters.ids == {1, 2}
    # voter 3's fetch no longer counts; voter 2's does (2 of 2)
    ctx.deliver(fetch_request(ctx.node.epoch, 3, offset=batch.base_offset + 1, last_epoch=ctx.node.epoch,
                              replica_dir=dir_of(3)), source=3, correlation_id=7)
    assert ctx.node.high_watermark <= batch.base_offset
    ctx.deliver(fetch_request(ctx.node.epoch, 2, offset=batch.base_offset + 1, last_epoch=ctx.node.epoch,
                              replica_dir=dir_of(2)), source=2, correlation_id=8)
    assert ctx.node.high_watermark == batch.base_offset + 1
    done = [r for r in ctx.responses if r.correlation_id == 51]
    assert [r.response.error_code for r in done] == [Errors.NONE]
    assert ctx.role == "Leader"


@pytest.mark.parametrize("request_, error", [
    (remove(cluster="x"), Errors.INCONSISTENT_CLUSTER_ID),
    (remove(directory=ZERO_UUID), Errors.INVALID_REQUEST),
    (remove(voter=2, directory=dir_of(7)), Errors.VOTER_NOT_FOUND),
    (remove(voter=5), Errors.VOTER_NOT_FOUND),
], ids=["cluster", "no-directory", "other-directory", "unknown"])
def test_remove_voter_refusals(request_, error):
    ctx = leader(voters=(1, 2, 3))
    assert answer(ctx, request_).error_code == error


def test_the_last_voter_cannot_be_removed():
    ctx = leader()
    assert answer(ctx, remove(1)).error_code == Errors.VOTER_NOT_FOUND


def test_remove_needs_kraft_version_1():
    ctx = leader(voters=(1, 2, 3), kraft_version=0)
    assert answer(ctx, remove(3)).error_code == Errors.UNSUPPORTED_VERSION


def test_leader_that_removes_itself_resigns_once_the_change_commits():
    ctx = leader(voters=(1, 2, 3))
    ctx.deliver(remove(1), source=-1, correlation_id=52)
    ctx.poll()
    (batch,) = voters_batches(ctx)
    assert ctx.node.voters.ids == {2, 3} and ctx.role == "Leader"
    ctx.deliver(fetch_request(ctx.node.epoch, 2, offset=batch.base_offset + 1, last_epoch=ctx.node.epoch,
                              replica_dir=dir_of(2)), source=2, correlation_id=8)
    assert ctx.node.high_watermark <= batch.base_offset  # 1 of the 2 voters in force
    ctx.deliver(fetch_request(ctx.node.epoch, 3, offset=batch.base_offset + 1, last_epoch=ctx.node.epoch,
                              replica_dir=dir_of(3)), source=3, correlation_id=9)
    assert ctx.node.high_watermark == batch.base_offset + 1
    assert [r.response.error_code for r in ctx.responses if r.correlation_id == 52] == [Errors.NONE]
    ctx.poll()
    assert ctx.role == "Resigned"


def test_a_change_in_progress_is_answered_not_leader_when_leadership_is_lost():
    ctx = leader(voters=(1, 2, 3))
    ctx.deliver(remove(3), source=-1, correlation_id=53)
    ctx.poll()
    ctx.deliver(rpc.BeginQuorumEpochRequest(CLUSTER, "__cluster_metadata", 0, 2, ctx.node.epoch + 1, -1, ZERO_UUID,
                                            endpoints_of(2), api_version=1), source=2)
    assert [r.response.error_code for r in ctx.responses if r.correlation_id == 53] == \
        [Errors.NOT_LEADER_OR_FOLLOWER]


# ---------------------------------------------------------------- UpdateRaftVoter
def test_update_voter_writes_the_new_listeners_and_answers_at_once():
    ctx = leader(voters=(1, 2, 3))
    moved = Endpoints([Endpoint("CONTROLLER", "elsewhere", 7777)])
    assert answer(ctx, update(ctx.node.epoch, 2, listeners=moved, low=0, high=1)).error_code == Errors.NONE
    ctx.poll()
    (batch,) = voters_batches(ctx)
    assert batch.voters.get(2).endpoints == moved and batch.voters.get(2).kraft_versions == (0, 1)
    assert ctx.node.voters.endpoints(2) == moved


@pytest.mark.parametrize("request_, error", [
    (update(1, 5), Errors.VOTER_NOT_FOUND),
    (update(1, 2, low=2, high=3), Errors.INVALID_REQUEST),
    (update(1, 2, low=0, high=0), Errors.INVALID_REQUEST),
], ids=["unknown", "range-above", "range-below"])
def test_update_voter_refusals(request_, error):
    ctx = leader(voters=(1, 2, 3))
    assert ctx.node.epoch == 1
    assert answer(ctx, request_).error_code == error
    assert not voters_batches(ctx)


# ---------------------------------------------------------------- followers
def test_follower_takes_the_voter_set_of_a_fetched_voters_record():
    ctx = RaftContext.build(local_id=4, voters=(1, 2, 3), voter_dirs=True, kraft_version=1)
    assert not ctx.node.is_voter
    new = VoterSet(Voter(ReplicaKey(i, dir_of(i)), endpoints_of(i), (0, 1)) for i in (1, 2, 3, 4))
    ctx.deliver(rpc.BeginQuorumEpochRequest(CLUSTER, "__cluster_metadata", 0, 1, 1, -1, ZERO_UUID,
                                            endpoints_of(1), api_version=1), source=1)
    ctx.poll()
    records = encode_batch(LeaderBatch(0, 1, 5, (b"x",))) + encode_batch(LeaderBatch(1, 1, 5, control_records=(voters_record(new),)))
    (send,) = ctx.take_sent(rpc.FetchRequest)
    ctx.answer(send, fetch_response(1, 1, records=records, hw=0))
    assert ctx.node.is_voter and ctx.node.voters.ids == {1, 2, 3, 4}
    assert ctx.node.quorum.history.last_offset() == 1
    # a diverging epoch truncating the record takes it back
    ctx.poll()
    (send,) = ctx.take_sent(rpc.FetchRequest)
    ctx.answer(send, fetch_response(1, 1, diverging=OffsetAndEpoch(1, 1)))
    assert not ctx.node.is_voter and ctx.node.voters.ids == {1, 2, 3}


# ---------------------------------------------------------------- members: UpdateRaftVoter and auto-join
def follower_of_1(local_id, voters, *, kraft_version=1, auto_join=False, voter_endpoints=None):
    """Node ``local_id`` following leader 1 in epoch 1; ``voter_endpoints`` overrides its own entry's listeners."""
    from kraft.core.config import QuorumConfig
    ctx = RaftContext.build(local_id=local_id, voters=voters, voter_dirs=True, kraft_version=kraft_version,
                            config=QuorumConfig(auto_join=auto_join), start=False)
    if voter_endpoints is not None:
        ctx.node.quorum.history.bootstrap = ctx.node.quorum.history.current = VoterSet(
            Voter(ReplicaKey(i, dir_of(i)), voter_endpoints if i == local_id else endpoints_of(i))
            for i in voters)
    ctx._apply(ctx.client.start(0))
    ctx.deliver(rpc.BeginQuorumEpochRequest(CLUSTER, "__cluster_metadata", 0, 1, 1, -1, ZERO_UUID,
                                            endpoints_of(1), api_version=1), source=1)
    ctx.responses.clear()
    assert ctx.role == "Follower"
    return ctx


def run_for(ctx, ms, answer_fetches=True):
    """Poll for ``ms`` in 50 ms steps, answering fetches (empty, hw 0); returns the other requests sent."""
    others = []
    for _ in range(ms // 50):
        ctx.advance(50)
        ctx.poll()
        for send in ctx.take_sent():
            if isinstance(send.request, rpc.FetchRequest) and answer_fetches:
                ctx.answer(send, fetch_response(1, 1, hw=0))
            else:
                others.append(send)
    return others


def test_voter_whose_entry_differs_sends_update_raft_voter_after_a_fetch_timeout():
    old = Endpoints([Endpoint("CONTROLLER", "old-host", 1)])
    ctx = follower_of_1(2, (1, 2, 3), voter_endpoints=old)
    timeout = ctx.node.config.fetch_timeout_ms
    assert run_for(ctx, timeout - 100) == []
    (send,) = run_for(ctx, 200)
    req = send.request
    assert isinstance(req, rpc.UpdateRaftVoterRequest) and send.destination == 1
    assert (req.voter_id, req.voter_directory_id, req.current_leader_epoch) == (2, dir_of(2), 1)
    assert req.listeners == endpoints_of(2) and (req.min_kraft_version, req.max_kraft_version) == (0, 1)
    ctx.answer(send, rpc.UpdateRaftVoterResponse(error_code=Errors.NONE, leader_id=1, leader_epoch=1,
                                                 leader_host="host1", leader_port=9001))
    assert ctx.role == "Follower"
    # still differing (the leader's record has not arrived): again one fetch timeout later, not before
    assert run_for(ctx, timeout - 100) == []
    assert [type(s.request) for s in run_for(ctx, 200)] == [rpc.UpdateRaftVoterRequest]


def test_voter_whose_entry_matches_or_at_kraft_version_0_sends_no_update():
    matching = follower_of_1(2, (1, 2, 3))
    matching.node.quorum.history.current = VoterSet(
        Voter(ReplicaKey(i, dir_of(i)), endpoints_of(i), (0, 1)) for i in (1, 2, 3))
    assert run_for(matching, 3 * matching.node.config.fetch_timeout_ms // 2) == []
    old = Endpoints([Endpoint("CONTROLLER", "old-host", 1)])
    v0 = follower_of_1(2, (1, 2, 3), kraft_version=0, voter_endpoints=old)
    assert run_for(v0, 3 * v0.node.config.fetch_timeout_ms // 2) == []


def test_observer_with_auto_join_adds_itself():
    ctx = follower_of_1(4, (1, 2, 3), auto_join=True)
    timeout = ctx.node.config.fetch_timeout_ms
    assert run_for(ctx, timeout - 100) == []
    (send,) = run_for(ctx, 200)
    req = send.request
    assert isinstance(req, rpc.AddRaftVoterRequest) and send.destination == 1
    assert (req.voter_id, req.voter_directory_id, req.listeners, req.ack_when_committed) == (
        4, dir_of(4), endpoints_of(4), False)
    ctx.answer(send, rpc.AddRaftVoterResponse(error_code=Errors.REQUEST_TIMED_OUT))
    assert run_for(ctx, timeout - 100) == []  # the timer was reset: one more fetch timeout


def test_observer_whose_id_is_a_voter_under_an_old_directory_removes_it_first():
    ctx = RaftContext.build(local_id=3, voters=(1, 2, 3), voter_dirs=True, kraft_version=1, start=False,
                            config=__import__("kraft.core.config", fromlist=["QuorumConfig"]).QuorumConfig(
                                auto_join=True))
    old_key = ReplicaKey(3, dir_of(33))
    ctx.node.quorum.history.bootstrap = ctx.node.quorum.history.current = VoterSet(
        Voter(old_key if i == 3 else ReplicaKey(i, dir_of(i)), endpoints_of(i)) for i in (1, 2, 3))
    ctx._apply(ctx.client.start(0))
    assert not ctx.node.is_voter
    ctx.deliver(rpc.BeginQuorumEpochRequest(CLUSTER, "__cluster_metadata", 0, 1, 1, -1, ZERO_UUID,
                                            endpoints_of(1), api_version=1), source=1)
    (send,) = run_for(ctx, ctx.node.config.fetch_timeout_ms + 100)
    assert isinstance(send.request, rpc.RemoveRaftVoterRequest)
    assert (send.request.voter_id, send.request.voter_directory_id) == (3, dir_of(33))


def test_observer_without_auto_join_only_fetches():
    ctx = follower_of_1(4, (1, 2, 3))
    assert run_for(ctx, 3 * ctx.node.config.fetch_timeout_ms) == []


def test_a_downloaded_snapshot_brings_its_kraft_version_and_voter_set():
    """A follower far behind installs the leader's snapshot: the KRaftVersion and Voters records in the
    snapshot's first batch (Kafka's writer puts them there) become the set in force."""
    ctx = RaftContext.build(local_id=4, voters=(1, 2, 3), voter_dirs=True)  # kraft.version 0, an observer
    assert not ctx.node.is_voter and ctx.node.quorum.kraft_version == 0
    ctx.deliver(rpc.BeginQuorumEpochRequest(CLUSTER, "__cluster_metadata", 0, 1, 2, -1, ZERO_UUID,
                                            endpoints_of(1), api_version=1), source=1)
    ctx.poll()
    (send,) = ctx.take_sent(rpc.FetchRequest)
    sid = OffsetAndEpoch(8, 2)
    ctx.answer(send, rpc.FetchResponse(topic_id=send.request.topic_id, current_leader_id=1, current_leader_epoch=2,
                                       snapshot_id=sid))
    new = VoterSet(Voter(ReplicaKey(i, dir_of(i)), endpoints_of(i), (0, 1)) for i in (1, 2, 4))
    data = encode_batch(LeaderBatch(0, 2, 0, control_records=(kraft_version_record(1), voters_record(new)))) + encode_batch(
        LeaderBatch(2, 2, 0, (b"state",)))
    ctx.poll()
    (send,) = ctx.take_sent(rpc.FetchSnapshotRequest)
    half = len(data) // 2  # in two chunks: the head is kept across them
    for position, chunk in ((0, data[:half]), (half, data[half:])):
        ctx.answer(send, rpc.FetchSnapshotResponse(topic="__cluster_metadata", snapshot_id=sid, current_leader_id=1,
                                                   current_leader_epoch=2, size=len(data), position=position,
                                                   unaligned_records=chunk))
        if position == 0:
            assert not ctx.node.is_voter
            ctx.poll()
            (send,) = ctx.take_sent(rpc.FetchSnapshotRequest)
    ctx.poll()  # the history is read from the installed snapshot at the next call
    assert ctx.node.is_voter and ctx.node.voters.ids == {1, 2, 4} and ctx.node.quorum.kraft_version == 1
    assert ctx.node.quorum.history.last_offset() == 7
