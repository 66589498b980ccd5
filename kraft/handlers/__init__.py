"""Adapters between Kafka protocol messages (:mod:`kraft.protocol.messages`) and the core's RPC types
(:mod:`kraft.core.rpc`), one module per RPC.

``request_to_core(api_key, message, api_version)`` and
``response_to_core(api_key, message, api_version)`` turn a decoded message
into the core's flat type; ``request_from_core(request)`` and
``response_from_core(response)`` build the message to encode at the core
object's ``api_version``.  Ids are :class:`kraft.protocol.Uuid` on both sides; records pass
through unchanged.
"""
from __future__ import annotations

from kraft.core import rpc
from kraft.handlers import (add_raft_voter, begin_quorum_epoch, describe_quorum, end_quorum_epoch, fetch,
                            fetch_snapshot, remove_raft_voter, update_raft_voter, vote)
from kraft.protocol.exceptions import UnknownApiKeyError

ADAPTERS = {
    rpc.FETCH: fetch,
    rpc.VOTE: vote,
    rpc.BEGIN_QUORUM_EPOCH: begin_quorum_epoch,
    rpc.END_QUORUM_EPOCH: end_quorum_epoch,
    rpc.FETCH_SNAPSHOT: fetch_snapshot,
    rpc.DESCRIBE_QUORUM: describe_quorum,
    rpc.UPDATE_RAFT_VOTER: update_raft_voter,
    rpc.ADD_RAFT_VOTER: add_raft_voter,
    rpc.REMOVE_RAFT_VOTER: remove_raft_voter,
}


def _adapter(api_key: int):
    module = ADAPTERS.get(api_key)
    if module is None:
        raise UnknownApiKeyError(f"API key {api_key} is not a Raft RPC of the core", api_key=api_key)
    return module


def request_to_core(api_key: int, message, api_version: int) -> rpc.Request:
    """The core's view of a decoded request of ``api_key`` received at ``api_version``."""
    return _adapter(api_key).request_to_core(message, api_version)


def request_from_core(request: rpc.Request):
    """The protocol message for a core request, to be written at ``request.api_version``."""
    return _adapter(request.api_key).request_from_core(request)


def response_to_core(api_key: int, message, api_version: int) -> rpc.Response:
    """The core's view of a decoded response of ``api_key`` at ``api_version``."""
    return _adapter(api_key).response_to_core(message, api_version)


def response_from_core(response: rpc.Response):
    """The protocol message for a core response, to be written at ``response.api_version``."""
    return _adapter(response.api_key).response_from_core(response)
