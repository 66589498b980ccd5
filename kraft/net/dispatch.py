"""Inbound requests to their handlers, with Kafka's answers for everything else.

:class:`RequestDispatcher` is the ``handler`` of a
:class:`~kraft.net.server.RequestServer`.  Like Kafka's test server it

* answers ApiVersions itself, for any client; a version above ours gets a v0
  response with UNSUPPORTED_VERSION and our ApiVersions range, so the client
  retries lower;
* closes the connection for an API key it does not advertise, a version
  outside the advertised range, or a request that does not parse (Kafka's
  socket server does the same);
* answers an advertised API that has no handler with the response's
  UNKNOWN_SERVER_ERROR error response, as TestRaftServer does;
* turns a handler's exception into the error response
  (UNKNOWN_SERVER_ERROR unless the exception says otherwise).

A response that carries a large records value (a Fetch or FetchSnapshot response) is handed to
the server as a list of buffers that reference the records where they are (a view of the
memory-mapped segment or snapshot) instead of being copied into one frame: the transport writes
them with one vectored write (uvloop: ``writev``).  The bytes on the wire are the same.
"""
from __future__ import annotations

import asyncio
import inspect
import logging
from dataclasses import dataclass
from typing import Awaitable, Callable, Mapping, Optional, Union

from kraft.net import messages
from kraft.net.api_versions import (
    API_VERSIONS,
    VersionRange,
    api_versions_response,
    unsupported_api_versions_response,
)
from kraft.net.errors import InvalidRequestError
from kraft.net.ratelimit import RateLimitedLog, peer_host
from kraft.net.server import InboundRequest
from kraft.protocol.errors import Errors
from kraft.protocol.messages import ApiVersionsResponse

log = logging.getLogger("kraft.net")


@dataclass(frozen=True)
class RequestContext:
    """Where a request came from, for its handler."""

    listener_name: str
    peer: str
    api_key: int
    api_version: int
    correlation_id: int
    client_id: Optional[str]


Handler = Callable[[RequestContext, object], Union[object, Awaitable[object]]]
"""Takes (context, request message); returns the response message or an awaitable of it."""


class RequestDispatcher:
    """Routes requests by API key; see the module documentation for the rules."""

    def __init__(self, advertised: Mapping[int, VersionRange], handlers: Mapping[int, Handler]):
        self.advertised = dict(advertised)
        self.handlers = dict(handlers)
        self._api_versions = api_versions_response(self.advertised)
        self._api_versions_frames: dict[int, bytes] = {}
        #: failing handlers are logged through this (one line per peer host and API per interval)
        self.errors = RateLimitedLog(log)

    def __call__(self, request: InboundRequest):
        api_key, version = request.api_key, request.api_version
        supported = self.advertised.get(api_key)
        if supported is None:
            raise InvalidRequestError(f"unknown API key {api_key} (version {version}, correlation id "
                                      f"{request.correlation_id})")
        if api_key == API_VERSIONS:
            return self._api_versions_answer(request, supported)
        if version not in supported:
            raise InvalidRequestError(
                f"unsupported version {version} of API key {api_key} (we support {supported.min_version}"
                f"..{supported.max_version})")
        header, message = messages.decode_request(request.payload)
        handler = self.handlers.get(api_key)
        if handler is None:
            return self._error(request, Errors.UNKNOWN_SERVER_ERROR, "no handler for this API")
        context = RequestContext(request.listener_name, request.peer, api_key, version,
                                 request.correlation_id, header.client_id)
        try:
            result = handler(context, message)
        except Exception as e:
            return self._failed(request, e)
        if inspect.isawaitable(result):
            # a task of its own: if the connection closes before the answer is awaited, the
            # handler still runs to its end (never a coroutine dropped unawaited)
            task = asyncio.ensure_future(result)
            task.add_done_callback(_retrieve)
            return self._finish(request, task)
        return messages.encode_response(api_key, version, request.correlation_id, result, vectored=True)

    async def _finish(self, request: InboundRequest, pending):
        try:
            result = await pending
        except Exception as e:
            return self._failed(request, e)
        return messages.encode_response(request.api_key, request.api_version, request.correlation_id, result,
                                        vectored=True)

    def _failed(self, request: InboundRequest, error: Exception) -> bytes:
        code = getattr(error, "error_code", Errors.UNKNOWN_SERVER_ERROR)
        self.errors.error(peer_host(request.peer), ("handler failed", request.api_key),
                          "Handler of API key %d v%d (correlation id %d from %s) failed", request.api_key,
                          request.api_version, request.correlation_id, request.peer, exc_info=error)
        return self._error(request, code, f"{type(error).__name__}: {error}")

    def _error(self, request: InboundRequest, code: int, why: str) -> bytes:
        response = messages.error_response(request.api_key, request.api_version, code)
        if response is None:
            raise InvalidRequestError(f"API key {request.api_key} v{request.api_version} failed ({why}) "
                                      f"and its response has no error code at that version")
        return messages.encode_response(request.api_key, request.api_version, request.correlation_id, response)

    def _api_versions_answer(self, request: InboundRequest, supported: VersionRange) -> bytes:
        version = request.api_version
        if version > supported.max_version or version < 0:
            return messages.encode_response(API_VERSIONS, 0, request.correlation_id,
                                            unsupported_api_versions_response(self.advertised))
        _, body = messages.decode_request(request.payload)  # refuse garbage
        if version >= 5 and (body.cluster_id is None) != (body.node_id == -1):
            # KIP-1242: ClusterId and NodeId come both or neither (Kafka 4.4.0's ApiVersionsRequest.isValid);
            # a controller checks nothing more (no REBOOTSTRAP_REQUIRED: that is KafkaApis', a broker's)
            return messages.encode_response(API_VERSIONS, version, request.correlation_id, ApiVersionsResponse(
                error_code=Errors.INVALID_REQUEST, api_keys=[], throttle_time_ms=0))
        frame_tail = self._api_versions_frames.get(version)
        if frame_tail is None:
            # Everything after the correlation id is the same for every request of this version.
            frame = messages.encode_response(API_VERSIONS, version, 0, self._api_versions)
            frame_tail = self._api_versions_frames[version] = frame[8:]
        return (len(frame_tail) + 4).to_bytes(4, "big") + request.correlation_id.to_bytes(4, "big", signed=True) \
            + frame_tail


def _retrieve(task: "asyncio.Future") -> None:
    """Mark a handler's outcome seen (it is reported by ``_finish`` when awaited)."""
    if not task.cancelled():
        task.exception()
