"""RemoveRaftVoter (v0): protocol messages <-> the core's ``RemoveRaftVoterRequest`` / ``Response``."""
from __future__ import annotations

from kraft.core import rpc
from kraft.protocol import messages


def request_to_core(message: messages.RemoveRaftVoterRequest, api_version: int) -> rpc.RemoveRaftVoterRequest:
    return rpc.RemoveRaftVoterRequest(cluster_id=message.cluster_id, voter_id=message.voter_id,
                                      voter_directory_id=message.voter_directory_id,
                                      api_version=api_version)


def request_from_core(request: rpc.RemoveRaftVoterRequest) -> messages.RemoveRaftVoterRequest:
    return messages.RemoveRaftVoterRequest(cluster_id=request.cluster_id, voter_id=request.voter_id,
                                           voter_directory_id=request.voter_directory_id)


def response_to_core(message: messages.RemoveRaftVoterResponse, api_version: int) -> rpc.RemoveRaftVoterResponse:
    return rpc.RemoveRaftVoterResponse(error_code=message.error_code, error_message=message.error_message,
                                       api_version=api_version)


def response_from_core(response: rpc.RemoveRaftVoterResponse) -> messages.RemoveRaftVoterResponse:
    return messages.RemoveRaftVoterResponse(throttle_time_ms=0, error_code=response.error_code,
                                            error_message=response.error_message)
