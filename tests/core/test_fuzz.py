"""Arbitrary requests and responses: the node answers, or raises one of its own errors; nothing else."""
from kraft.protocol.uuid import Uuid

from hypothesis import HealthCheck, given, settings, strategies as st

from raft_context import RaftContext
from kraft.core import rpc
from kraft.core.effects import PeerUnreachable
from kraft.core.errors import RaftError
from kraft.core.log import OffsetAndEpoch
from kraft.core.types import ElectionState, Endpoint, Endpoints, NodeEndpoint, ReplicaKey
from kraft.errors import KraftError

# Mostly well-formed values, so that the deep paths are reached, with bad ones mixed in.
ints = st.one_of(st.integers(0, 6), st.integers(-3, 12))
offsets = st.one_of(st.integers(0, 8), st.integers(-2, 40))
uuids = st.sampled_from([Uuid.ZERO, Uuid.ZERO, Uuid((0xD1D0001).to_bytes(16, "big")), Uuid((7).to_bytes(16, "big"))])
clusters = st.sampled_from([None, "test-cluster-id", "test-cluster-id", "test-cluster-id", "other"])
topics = st.sampled_from(["__cluster_metadata"] * 4 + ["x"])
endpoints = st.lists(st.builds(Endpoint, st.sampled_from(["CONTROLLER", "OTHER"]), st.just("h"), st.integers(1, 9)),
                     max_size=2).map(Endpoints)
node_endpoints = st.lists(st.builds(NodeEndpoint, ints, st.just("h"), st.integers(1, 9)), max_size=2).map(tuple)
counts = st.sampled_from([1] * 6 + [0, 2])
voter_ids = st.sampled_from([-1, -1, 1, 1, 0, 2, 5])
epochs = st.one_of(st.integers(2, 5), st.integers(-1, 12))
partitions = st.sampled_from([0] * 6 + [1])
versions = st.integers(0, 1)

requests = st.one_of(
    st.builds(rpc.VoteRequest, clusters, topics, partitions, epochs, ints, ints, offsets, uuids, voter_ids, uuids,
              counts, versions),
    st.builds(rpc.BeginQuorumEpochRequest, clusters, topics, partitions, ints, epochs, voter_ids, uuids, endpoints,
              counts, versions),
    st.builds(rpc.EndQuorumEpochRequest, clusters, topics, partitions, ints, ints,
              st.lists(ints, max_size=3).map(tuple),
              st.lists(st.builds(ReplicaKey, ints, st.none()), max_size=3).map(tuple), endpoints, counts, versions),
    st.builds(rpc.FetchRequest, clusters, ints, st.sampled_from([Uuid((1).to_bytes(16, "big"))] * 4 + [Uuid((2).to_bytes(16, "big"))]),
              partitions, offsets, ints, ints, st.integers(-1, 600), st.just(1 << 20), uuids, counts,
              st.integers(13, 17)),
    st.builds(rpc.FetchSnapshotRequest, clusters, ints, topics, partitions, ints,
              st.builds(OffsetAndEpoch, offsets, ints), offsets, st.just(100), uuids, counts, versions),
    st.builds(rpc.DescribeQuorumRequest, topics, partitions, counts, st.integers(0, 2)),
)


def roles():
    def build(kind):
        ctx = RaftContext.build(local_id=1, log_epochs=(1, 1, 2), election=ElectionState(2))
        if kind == "leader":
            ctx.become_leader()
        elif kind == "candidate":
            ctx.advance(5000)
            ctx.poll()
        elif kind == "resigned":
            ctx.become_leader()
            ctx.node.resign(ctx.node.epoch)
            ctx.poll()
        return ctx
    return st.sampled_from(["unattached", "leader", "candidate", "resigned"]).map(build)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(roles(), st.lists(requests, min_size=1, max_size=4))
def test_arbitrary_requests(ctx, batch):
    for request in batch:
        try:
            ctx.deliver(request)
        except (RaftError, KraftError):
            return  # a fatal condition Kafka also stops on, named by our own error type
        for r in ctx.responses:
            assert r.response.api_key == request.api_key
        ctx.responses.clear()
        ctx.poll()


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(roles(), st.lists(st.one_of(requests, st.builds(PeerUnreachable, voter_ids)), min_size=1, max_size=6),
       st.lists(st.integers(0, 3000), min_size=6, max_size=6))
def test_arbitrary_requests_and_unreachable_peers_over_time(ctx, events, gaps):
    for event, gap in zip(events, gaps):
        ctx.advance(gap)
        try:
            if isinstance(event, PeerUnreachable):
                ctx._apply(ctx.client.step(event, ctx.now))
            else:
                ctx.deliver(event)
        except (RaftError, KraftError):
            return
        ctx.responses.clear()
        ctx.poll()


responses = st.one_of(
    st.builds(rpc.VoteResponse, st.sampled_from([0, 0, 0, 8, 31, 42]), topics, partitions,
              st.sampled_from([0, 6, 42, 74, 75, 125]), ints, ints, st.booleans(), node_endpoints, counts, versions),
    st.builds(rpc.FetchResponse, st.sampled_from([0, 8]), st.just(Uuid((1).to_bytes(16, "big"))), st.just(0),
              st.sampled_from([0, 6, 74, 75, 8]), offsets, st.just(0),
              st.one_of(st.none(), st.builds(OffsetAndEpoch, offsets, ints)), ints, ints,
              st.one_of(st.none(), st.builds(OffsetAndEpoch, offsets, ints)), st.binary(max_size=80), node_endpoints,
              counts, st.integers(13, 17)),
)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(roles(), responses)
def test_arbitrary_answers_to_our_own_requests(ctx, response):
    ctx.deliver(rpc.BeginQuorumEpochRequest("test-cluster-id", "__cluster_metadata", 0, 2, ctx.node.epoch + 1))
    ctx.poll()
    ctx.advance(5000)
    ctx.poll()
    ctx.poll()
    for send in ctx.take_sent():
        try:
            ctx.answer(send, response)
        except (RaftError, KraftError):
            return
