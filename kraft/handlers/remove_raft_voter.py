"""RemoveRaftVoter (v0): protocol messages <-> the core's ``RemoveRaftVoterRequest`` / ``Response``."""
from __future__ import annotations

from kraft.core import rpc
from kraft.handlers._convert import voter_change_response_from_core, voter_change_response_to_core, voter_fields
from kraft.protocol import messages


def request_to_core(message: messages.RemoveRaftVoterRequest, api_version: int) -> rpc.RemoveRaftVoterRequest:
    return rpc.RemoveRaftVoterRequest(**voter_fields(message), api_version=api_version)


def request_from_core(request: rpc.RemoveRaftVoterRequest) -> messages.RemoveRaftVoterRequest:
    return messages.RemoveRaftVoterRequest(**voter_fields(request))


def response_to_core(message: messages.RemoveRaftVoterResponse, api_version: int) -> rpc.RemoveRaftVoterResponse:
    return voter_change_response_to_core(message, api_version, rpc.RemoveRaftVoterResponse)


def response_from_core(response: rpc.RemoveRaftVoterResponse) -> messages.RemoveRaftVoterResponse:
    return voter_change_response_from_core(response, messages.RemoveRaftVoterResponse)
