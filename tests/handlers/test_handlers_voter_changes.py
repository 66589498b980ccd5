"""AddRaftVoter (v0, v1) and RemoveRaftVoter (v0) through the wire: Kafka's message <-> the core's type."""
import pytest

from kraft import handlers
from kraft.core import rpc
from kraft.core.types import Endpoint, Endpoints
from kraft.protocol import messages
from kraft.protocol.uuid import Uuid

DIRECTORY = Uuid((5).to_bytes(16, "big"))
LISTENERS = Endpoints([Endpoint("CONTROLLER", "127.0.0.1", 9093), Endpoint("REPLICATION", "127.0.0.1", 9094)])


def through_the_wire(value, message_class, api_key, version, kind):
    if kind == "request":
        message = handlers.request_from_core(value)
        return handlers.request_to_core(api_key, message_class.decode(message.encode(version), version), version)
    message = handlers.response_from_core(value)
    return handlers.response_to_core(api_key, message_class.decode(message.encode(version), version), version)


@pytest.mark.parametrize("version,ack", [(0, True), (1, True), (1, False)])
def test_add_raft_voter_requests_survive_each_version(version, ack):
    request = rpc.AddRaftVoterRequest(cluster_id="AAAAAAAAAAAAAAAAAAAAAA", timeout_ms=30000, voter_id=3,
                                      voter_directory_id=DIRECTORY, listeners=LISTENERS, ack_when_committed=ack,
                                      api_version=version)
    assert through_the_wire(request, messages.AddRaftVoterRequest, rpc.ADD_RAFT_VOTER, version, "request") == request


def test_add_raft_voter_v0_cannot_carry_an_early_answer():
    """v0 has no AckWhenCommitted: asking for an early answer at v0 is refused when written, as
    Kafka's generated message classes refuse a non-default value for a field the version lacks."""
    from kraft.protocol.exceptions import UnsupportedVersionError

    request = rpc.AddRaftVoterRequest(cluster_id="c", timeout_ms=1, voter_id=3, voter_directory_id=DIRECTORY,
                                      listeners=LISTENERS, ack_when_committed=False, api_version=0)
    with pytest.raises(UnsupportedVersionError):
        handlers.request_from_core(request).encode(0)


def test_remove_raft_voter_requests_survive_the_wire():
    request = rpc.RemoveRaftVoterRequest(cluster_id="c", voter_id=3, voter_directory_id=DIRECTORY)
    assert through_the_wire(request, messages.RemoveRaftVoterRequest, rpc.REMOVE_RAFT_VOTER, 0, "request") == request


@pytest.mark.parametrize("core_class,message_class,api_key,version", [
    (rpc.AddRaftVoterResponse, messages.AddRaftVoterResponse, rpc.ADD_RAFT_VOTER, 0),
    (rpc.AddRaftVoterResponse, messages.AddRaftVoterResponse, rpc.ADD_RAFT_VOTER, 1),
    (rpc.RemoveRaftVoterResponse, messages.RemoveRaftVoterResponse, rpc.REMOVE_RAFT_VOTER, 0)])
@pytest.mark.parametrize("error_code,error_message", [(0, None), (109, "The voter id for 3 is already a voter")])
def test_answers_survive_the_wire(core_class, message_class, api_key, version, error_code, error_message):
    response = core_class(error_code=error_code, error_message=error_message, api_version=version)
    assert handlers.response_from_core(response).throttle_time_ms == 0
    assert through_the_wire(response, message_class, api_key, version, "response") == response
