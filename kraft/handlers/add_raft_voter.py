"""AddRaftVoter: protocol messages <-> the core's ``AddRaftVoterRequest`` / ``Response``.

v1 (Kafka 4.1+, KIP-1186) adds ``AckWhenCommitted`` (default true); where the schema has no v1
the field is absent and the request is read as v0 (answer once committed)."""
from __future__ import annotations

from kraft.core import rpc
from kraft.core.types import Endpoint, Endpoints
from kraft.protocol import messages


def request_to_core(message: messages.AddRaftVoterRequest, api_version: int) -> rpc.AddRaftVoterRequest:
    return rpc.AddRaftVoterRequest(
        cluster_id=message.cluster_id, timeout_ms=message.timeout_ms, voter_id=message.voter_id,
        voter_directory_id=message.voter_directory_id,
        listeners=Endpoints(Endpoint(lst.name, lst.host, lst.port) for lst in message.listeners),
        ack_when_committed=bool(getattr(message, "ack_when_committed", True)), api_version=api_version)


def request_from_core(request: rpc.AddRaftVoterRequest) -> messages.AddRaftVoterRequest:
    m = messages.AddRaftVoterRequest
    fields = dict(cluster_id=request.cluster_id, timeout_ms=request.timeout_ms, voter_id=request.voter_id,
                  voter_directory_id=request.voter_directory_id,
                  listeners=[m.Listener(name=e.name, host=e.host, port=e.port) for e in request.listeners])
    if hasattr(m(), "ack_when_committed"):
        fields["ack_when_committed"] = request.ack_when_committed
    return m(**fields)


def response_to_core(message: messages.AddRaftVoterResponse, api_version: int) -> rpc.AddRaftVoterResponse:
    return rpc.AddRaftVoterResponse(error_code=message.error_code, error_message=message.error_message,
                                    api_version=api_version)


def response_from_core(response: rpc.AddRaftVoterResponse) -> messages.AddRaftVoterResponse:
    return messages.AddRaftVoterResponse(throttle_time_ms=0, error_code=response.error_code,
                                         error_message=response.error_message)
