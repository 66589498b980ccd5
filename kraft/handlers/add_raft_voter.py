"""AddRaftVoter: protocol messages <-> the core's ``AddRaftVoterRequest`` / ``Response``.

v1 (Kafka 4.1+, KIP-1186) adds ``AckWhenCommitted`` (default true); where the schema has no v1
the field is absent and the request is read as v0 (answer once committed)."""
from __future__ import annotations

from kraft.core import rpc
from kraft.handlers._convert import (core_endpoints, voter_change_response_from_core, voter_change_response_to_core,
                                     voter_fields, wire_endpoints)
from kraft.protocol import messages


def request_to_core(message: messages.AddRaftVoterRequest, api_version: int) -> rpc.AddRaftVoterRequest:
    return rpc.AddRaftVoterRequest(
        **voter_fields(message), timeout_ms=message.timeout_ms, listeners=core_endpoints(message.listeners),
        ack_when_committed=bool(getattr(message, "ack_when_committed", True)), api_version=api_version)


def request_from_core(request: rpc.AddRaftVoterRequest) -> messages.AddRaftVoterRequest:
    m = messages.AddRaftVoterRequest
    fields = dict(voter_fields(request), timeout_ms=request.timeout_ms,
                  listeners=wire_endpoints(request.listeners, m.Listener))
    if hasattr(m(), "ack_when_committed"):
        fields["ack_when_committed"] = request.ack_when_committed
    return m(**fields)


def response_to_core(message: messages.AddRaftVoterResponse, api_version: int) -> rpc.AddRaftVoterResponse:
    return voter_change_response_to_core(message, api_version, rpc.AddRaftVoterResponse)


def response_from_core(response: rpc.AddRaftVoterResponse) -> messages.AddRaftVoterResponse:
    return voter_change_response_from_core(response, messages.AddRaftVoterResponse)
