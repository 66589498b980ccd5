"""UpdateRaftVoter v0 through the wire: Kafka's message <-> the core's type, both ways."""
from kraft.protocol.uuid import Uuid

from kraft import handlers
from kraft.core import rpc
from kraft.core.types import Endpoint, Endpoints
from kraft.protocol import messages


def test_request_round_trips_through_kafkas_encoding():
    request = rpc.UpdateRaftVoterRequest(
        cluster_id="AAAAAAAAAAAAAAAAAAAAAA", current_leader_epoch=7, voter_id=3,
        voter_directory_id=Uuid((5).to_bytes(16, "big")), listeners=Endpoints([Endpoint("CONTROLLER", "127.0.0.1", 9093)]),
        min_kraft_version=0, max_kraft_version=1)
    wire = messages.UpdateRaftVoterRequest.decode(handlers.request_from_core(request).encode(0), 0)
    assert handlers.request_to_core(rpc.UPDATE_RAFT_VOTER, wire, 0) == request


def test_response_carries_the_leader_in_its_tagged_field():
    response = rpc.UpdateRaftVoterResponse(error_code=35, leader_id=1, leader_epoch=7, leader_host="127.0.0.1",
                                           leader_port=9093)
    message = handlers.response_from_core(response)
    assert message.to_json(0)["currentLeader"] == {"leaderId": 1, "leaderEpoch": 7, "host": "127.0.0.1",
                                                   "port": 9093}
    wire = messages.UpdateRaftVoterResponse.decode(message.encode(0), 0)
    assert handlers.response_to_core(rpc.UPDATE_RAFT_VOTER, wire, 0) == response


def test_an_error_only_answer_has_no_leader():
    response = rpc.error_response(rpc.UPDATE_RAFT_VOTER, 15)
    message = handlers.response_from_core(response)
    assert (message.error_code, message.current_leader.leader_id) == (15, -1)
