"""UpdateRaftVoter in the core: answered as Kafka 3.9.0's leader answers it, never acted on.

Kafka 4.1+ followers send it to every new leader, even at kraft.version 0; Kafka 3.9.0's leader
validates it (KafkaRaftClient.handleUpdateVoterRequest, then UpdateVoterHandler) and answers
UNSUPPORTED_VERSION, which a 4.x follower takes as done.  Without a handler kraft answered
UNKNOWN_SERVER_ERROR, which a 4.x follower logs as an unexpected error and sends again.
"""
import pytest

from raft_context import CLUSTER, RaftContext, begin_epoch, dir_of, endpoints_of, fetch_request
from kraft.core import rpc
from kraft.core.types import Endpoint, Endpoints
from kraft.protocol.uuid import Uuid
from kraft.protocol.errors import Errors


def update(epoch, voter=2, *, directory=None, listeners=None, low=0, high=1, cluster=CLUSTER):
    return rpc.UpdateRaftVoterRequest(
        cluster_id=cluster, current_leader_epoch=epoch, voter_id=voter,
        voter_directory_id=dir_of(voter) if directory is None else directory,
        listeners=endpoints_of(voter) if listeners is None else listeners,
        min_kraft_version=low, max_kraft_version=high)


def committed_leader():
    ctx = RaftContext.build(local_id=1)
    ctx.become_leader()
    ctx.deliver(fetch_request(1, 2, offset=1, last_epoch=1))  # the LeaderChange batch is acknowledged
    ctx.responses.clear()
    assert ctx.node.high_watermark == 1
    return ctx


def answer(ctx, request):
    ctx.deliver(request)
    return ctx.response()


def test_leader_at_kraft_version_0_answers_unsupported_version_with_itself_as_leader():
    ctx = committed_leader()
    batches = len(ctx.leader_batches())
    ctx.sent.clear()
    r = answer(ctx, update(1))
    assert r.error_code == Errors.UNSUPPORTED_VERSION
    assert (r.leader_id, r.leader_epoch) == (1, 1)
    leader = endpoints_of(1).address("CONTROLLER")
    assert (r.leader_host, r.leader_port) == (leader.host, leader.port)
    assert len(ctx.leader_batches()) == batches and not ctx.sent  # nothing appended or sent because of it


@pytest.mark.parametrize("request_, error", [
    (update(1, cluster="another-cluster"), Errors.INCONSISTENT_CLUSTER_ID),
    (update(0), Errors.FENCED_LEADER_EPOCH),
    (update(2), Errors.UNKNOWN_LEADER_EPOCH),
    (update(1, voter=-1), Errors.INVALID_REQUEST),
    (update(1, directory=Uuid.ZERO), Errors.INVALID_REQUEST),
    (update(1, listeners=Endpoints([Endpoint("OTHER", "h", 1)])), Errors.INVALID_REQUEST),
    (update(1, low=-1), Errors.INVALID_REQUEST),
    (update(1, low=1, high=0), Errors.INVALID_REQUEST),
], ids=["cluster", "old-epoch", "new-epoch", "no-voter", "no-directory", "no-controller-listener",
        "negative-version", "empty-range"])
def test_checks_come_in_kafkas_order(request_, error):
    ctx = committed_leader()
    assert answer(ctx, request_).error_code == error


def test_leader_without_a_high_watermark_asks_to_retry():
    ctx = RaftContext.build(local_id=1)
    ctx.become_leader()
    ctx.responses.clear()
    assert answer(ctx, update(1)).error_code == Errors.REQUEST_TIMED_OUT


def test_follower_answers_not_leader_and_names_the_leader():
    ctx = RaftContext.build(local_id=1)
    ctx.deliver(begin_epoch(3, leader=2, endpoints=endpoints_of(2)))
    ctx.responses.clear()
    r = answer(ctx, update(3, voter=3))
    assert r.error_code == Errors.NOT_LEADER_OR_FOLLOWER
    assert (r.leader_id, r.leader_epoch, r.leader_host, r.leader_port) == (2, 3, "host2", 9002)


def test_unattached_node_names_no_leader():
    ctx = RaftContext.build(local_id=1)
    r = answer(ctx, update(0, voter=3))
    assert r.error_code == Errors.NOT_LEADER_OR_FOLLOWER
    assert (r.leader_id, r.leader_host, r.leader_port) == (-1, "", 0)
