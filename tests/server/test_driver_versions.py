"""The version of the first request a node sends to a peer: the newest both support.

Kafka's NetworkClient (used by every Kafka KRaft node, with discoverBrokerVersions on) sends
nothing on a new connection before its ApiVersions exchange completes, and then builds each
request at the newest version both sides support.  A kraft node must do the same: a peer that
dropped old versions (Kafka 4.x refuses Fetch v0-3) or that expects the newer fields (Vote v1's
voter id) must not get the oldest version first.
"""
from __future__ import annotations

import asyncio

import pytest

from kraft.protocol.messages import VoteResponse
from kraft.server.config import ServerConfig
from kraft.server.network import NodeNetwork
from kraft.server.raft_manager import RaftManager

from test_raft_manager import free_ports, properties

WAIT_S = 30


def test_first_vote_to_a_peer_goes_at_the_newest_common_version(tmp_path):
    """Node 1 of two voters times out and asks node 2 (a bare network that records) for its vote."""
    ports = free_ports(2)
    seen = []

    def on_vote(context, request):
        seen.append(context.api_version)
        return VoteResponse(error_code=0, topics=[VoteResponse.TopicData(
            topic_name="__raft_performance_test", partitions=[VoteResponse.PartitionData(
                partition_index=0, error_code=0, leader_id=-1,
                leader_epoch=request.topics[0].partitions[0].candidate_epoch, vote_granted=False)])])

    async def scenario():
        peer = NodeNetwork(ServerConfig.from_properties(properties(2, ports, tmp_path), warn=lambda m: None))
        peer.set_handler(52, on_vote)
        await peer.start()
        try:
            async with RaftManager(properties(1, ports, tmp_path)):
                for _ in range(WAIT_S * 20):
                    if seen:
                        break
                    await asyncio.sleep(0.05)
        finally:
            await peer.close()

    asyncio.run(asyncio.wait_for(scenario(), 2 * WAIT_S))
    assert seen, "node 1 never asked for a vote"
    # both serve Vote v2 (pre-vote): every Vote goes at v2, pre-vote or not
    assert seen[0] == 2, f"versions of the Vote requests received: {seen}"
    assert set(seen) == {2}


# ------------------------------------------------------------------ peers of each Kafka release
#: The KRaft APIs' ranges as each release's controller advertises them (ApiKeys for the CONTROLLER
#: listener, read from the 3.9.2 and 4.4.0 jars): 4.x dropped Fetch v0-3 and added Vote v2 and Fetch v18.
KAFKA_TABLES = {
    "3.9.2": {18: (0, 4), 1: (0, 17), 52: (0, 1), 53: (0, 1), 54: (0, 1), 55: (0, 2), 59: (0, 1), 60: (0, 1),
              80: (0, 0), 81: (0, 0), 82: (0, 0)},
    "4.4.0": {18: (0, 5), 1: (4, 18), 52: (0, 2), 53: (0, 1), 54: (0, 1), 55: (0, 2), 59: (0, 1), 60: (0, 2),
              80: (0, 1), 81: (0, 0), 82: (0, 0)},
}
#: what a kraft node must send each of them first: the newest version both have
EXPECTED_FIRST = {"3.9.2": {52: 1, 53: 1, 1: 17}, "4.4.0": {52: 2, 53: 1, 1: 18}}


async def _recorded_peer(tmp_path, ports, table, on_request):
    """Node 2: a bare network advertising ``table`` that hands every KRaft request to ``on_request``."""
    from kraft.net.api_versions import VersionRange, api_versions_response

    peer = NodeNetwork(ServerConfig.from_properties(properties(2, ports, tmp_path), warn=lambda m: None))
    advertised = {k: VersionRange(*r) for k, r in table.items()}
    peer.dispatcher.advertised = advertised
    peer.dispatcher._api_versions = api_versions_response(advertised)
    for api_key in (1, 52, 53, 54, 59, 82):
        peer.set_handler(api_key, lambda context, request, k=api_key: on_request(k, context, request))
    await peer.start()
    return peer


def _run_against(tmp_path, release, answer, done, extra=None, shutdown_timeout=None):
    """Run kraft node 1 against a recorded node 2 of ``release`` until ``done(seen)``; return what was seen."""
    ports = free_ports(2)
    seen = []   # (api key, version, request) in arrival order

    def on_request(api_key, context, request):
        seen.append((api_key, context.api_version, request))
        return answer(api_key, context.api_version, request)

    async def scenario():
        peer = await _recorded_peer(tmp_path, ports, KAFKA_TABLES[release], on_request)
        try:
            timeout = {} if shutdown_timeout is None else {"shutdown_timeout": shutdown_timeout}
            async with RaftManager(properties(1, ports, tmp_path, **(extra or {})), **timeout):
                for _ in range(WAIT_S * 20):
                    if done(seen):
                        break
                    await asyncio.sleep(0.05)
        finally:
            await peer.close()

    asyncio.run(asyncio.wait_for(scenario(), 2 * WAIT_S))
    return seen


def _vote_answer(granted: bool):
    from kraft.protocol.messages import BeginQuorumEpochResponse, FetchResponse, UpdateRaftVoterResponse
    from kraft.server.identity import TOPIC_ID, TOPIC_NAME

    epoch = {}

    def answer(api_key, version, request):
        if api_key == 52:
            partition = request.topics[0].partitions[0]
            epoch["e"] = partition.candidate_epoch
            # granted: node 1 leads (2 of 2 votes); refused naming node 2 leader of the epoch: node 1 follows it
            return VoteResponse(error_code=0, topics=[VoteResponse.TopicData(
                topic_name=TOPIC_NAME, partitions=[VoteResponse.PartitionData(
                    partition_index=0, error_code=0, leader_id=-1 if granted else 2,
                    leader_epoch=partition.candidate_epoch, vote_granted=granted)])])
        if api_key == 53:
            return BeginQuorumEpochResponse(error_code=0, topics=[BeginQuorumEpochResponse.TopicData(
                topic_name=TOPIC_NAME, partitions=[BeginQuorumEpochResponse.PartitionData(
                    partition_index=0, error_code=0, leader_id=1, leader_epoch=epoch.get("e", 0))])])
        if api_key == 1:
            # granted: node 2 knows no leader (node 1 leads later), as an unattached Kafka node answers the
            # Fetch a 4.x unattached voter sends its bootstrap servers; refused: node 2 leads
            return FetchResponse(responses=[FetchResponse.FetchableTopicResponse(
                topic=TOPIC_NAME, topic_id=TOPIC_ID, partitions=[FetchResponse.PartitionData(
                    partition_index=0, error_code=6 if granted and "e" not in epoch else 0, high_watermark=0,
                    records=b"", current_leader=FetchResponse.LeaderIdAndEpoch(
                        leader_id=-1 if granted else 2, leader_epoch=epoch.get("e", 0)))])])
        if api_key == 82:  # a 4.x follower's UpdateRaftVoter at kraft.version 0: a 4.x leader's answer
            return UpdateRaftVoterResponse(error_code=0, current_leader=UpdateRaftVoterResponse.CurrentLeader(
                leader_id=2, leader_epoch=epoch.get("e", 0), host="", port=0))
        raise AssertionError(f"unexpected API {api_key}")

    return answer


@pytest.mark.parametrize("release", sorted(KAFKA_TABLES))
def test_first_vote_begin_quorum_epoch_and_fetch_to_a_kafka_peer_go_at_the_newest_common_version(tmp_path, release):
    """Before its first request to a peer a kraft node knows the peer's ApiVersions (the channel holds
    the request until the exchange is done): the first Vote, BeginQuorumEpoch and Fetch, and every
    later one, go at the newest version both sides have, never one the peer does not advertise
    (Kafka 4.x refuses Fetch v0-3)."""
    expected = EXPECTED_FIRST[release]
    table = KAFKA_TABLES[release]
    # granted: node 1 leads and announces itself (BeginQuorumEpoch)
    led = _run_against(tmp_path / "lead", release, _vote_answer(True), lambda s: any(k == 53 for k, _, _ in s))
    # refused, naming node 2 leader of the epoch: node 1 follows and fetches
    followed = _run_against(tmp_path / "follow", release, _vote_answer(False),
                            lambda s: sum(k == 1 for k, _, _ in s) >= 3)
    for api_key, runs in ((52, led + followed), (53, led), (1, followed)):
        versions = [v for k, v, _ in runs if k == api_key]
        assert versions, f"node 1 never sent API {api_key}: {[(k, v) for k, v, _ in runs]}"
        assert versions[0] == expected[api_key], f"first API {api_key} at v{versions[0]}: {versions}"
        assert set(versions) == {expected[api_key]}, versions
        assert all(table[api_key][0] <= v <= table[api_key][1] for v in versions)
    votes = [(v, r) for k, v, r in led + followed if k == 52]
    # a pre-vote only to a peer with Vote v2 (a 3.9 peer never sees one); no voter key: the peer's
    # directory id is not known
    assert all(v == 2 for v, r in votes if any(p.pre_vote for p in r.topics[0].partitions))
    assert all(r.voter_id == -1 for _, r in votes)
    fetches = [r.topics[0].partitions[0] for k, v, r in followed if k == 1]
    if expected[1] >= 18:
        # Fetch v18 carries the follower's high watermark: -1 until it knows one (never Kafka's "not sent")
        assert all(p.high_watermark in (-1, 0) for p in fetches), [p.high_watermark for p in fetches]
        assert fetches[0].high_watermark == -1


def test_a_kraft_node_in_reference_mode_sends_what_the_reference_revision_sends(tmp_path):
    """``kraft.test.behaviour=reference``: Vote with no voter key and no directory ids, BeginQuorumEpoch
    with VoterId 0 and no leader endpoints (kraft.core.behaviour.REFERENCE_REVISION)."""
    seen = _run_against(tmp_path, "3.9.2", _vote_answer(True), lambda s: any(k == 53 for k, _, _ in s),
                        extra={"kraft.test.behaviour": "reference"})
    vote = next(r for k, _, r in seen if k == 52)
    begin = next(r for k, _, r in seen if k == 53)
    assert vote.voter_id == -1 and vote.topics[0].partitions[0].candidate_directory_id.bytes == bytes(16)
    assert begin.voter_id == 0 and list(begin.leader_endpoints) == []


@pytest.mark.parametrize("release", sorted(KAFKA_TABLES))
def test_a_starting_voter_learns_its_peers_versions_before_its_first_request(tmp_path, release):
    """A voter starting unattached opens its connections to the other voters at once (their
    ApiVersions): with a Kafka 4.x peer it then behaves as 4.x from the start, fetching from the
    bootstrap servers (KAFKA-17030) and asking for a pre-vote before any Vote; with a 3.9 peer it
    waits out its election timer and stands as 3.9 does (a Vote v1, no Fetch before it)."""
    seen = _run_against(tmp_path, release, _vote_answer(True), lambda s: any(k == 52 for k, _, _ in s),
                        shutdown_timeout=0.2)
    first_vote = next(i for i, (k, _, _) in enumerate(seen) if k == 52)
    before = {k for k, _, _ in seen[:first_vote]}
    vote = seen[first_vote][2]
    if release.startswith("4."):
        assert before == {1}, f"requests before the first Vote: {[(k, v) for k, v, _ in seen[:first_vote + 1]]}"
        assert vote.topics[0].partitions[0].pre_vote
    else:
        assert before == set(), [(k, v) for k, v, _ in seen[:first_vote + 1]]
        assert seen[first_vote][1] == 1
