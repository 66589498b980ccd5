"""UpdateRaftVoter (v0 only): protocol messages <-> the core's ``UpdateRaftVoterRequest`` / ``Response``."""
from __future__ import annotations

from kraft.core import rpc
from kraft.handlers._convert import core_endpoints, wire_endpoints
from kraft.protocol import messages


def request_to_core(message: messages.UpdateRaftVoterRequest, api_version: int) -> rpc.UpdateRaftVoterRequest:
    feature = message.kraft_version_feature
    return rpc.UpdateRaftVoterRequest(
        cluster_id=message.cluster_id, current_leader_epoch=message.current_leader_epoch,
        voter_id=message.voter_id, voter_directory_id=message.voter_directory_id,
        listeners=core_endpoints(message.listeners),
        min_kraft_version=feature.min_supported_version, max_kraft_version=feature.max_supported_version,
        api_version=api_version)


def request_from_core(request: rpc.UpdateRaftVoterRequest) -> messages.UpdateRaftVoterRequest:
    m = messages.UpdateRaftVoterRequest
    return m(cluster_id=request.cluster_id, current_leader_epoch=request.current_leader_epoch,
             voter_id=request.voter_id, voter_directory_id=request.voter_directory_id,
             listeners=wire_endpoints(request.listeners, m.Listener),
             kraft_version_feature=m.KRaftVersionFeature(min_supported_version=request.min_kraft_version,
                                                         max_supported_version=request.max_kraft_version))


def response_to_core(message: messages.UpdateRaftVoterResponse, api_version: int) -> rpc.UpdateRaftVoterResponse:
    leader = message.current_leader
    return rpc.UpdateRaftVoterResponse(error_code=message.error_code, leader_id=leader.leader_id,
                                       leader_epoch=leader.leader_epoch, leader_host=leader.host,
                                       leader_port=leader.port, api_version=api_version)


def response_from_core(response: rpc.UpdateRaftVoterResponse) -> messages.UpdateRaftVoterResponse:
    m = messages.UpdateRaftVoterResponse
    return m(error_code=response.error_code, current_leader=m.CurrentLeader(
        leader_id=response.leader_id, leader_epoch=response.leader_epoch, host=response.leader_host,
        port=response.leader_port))
