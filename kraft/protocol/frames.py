"""Request and response frames: the size prefix, the headers, and the message body.

A *frame* is ``int32 size`` followed by ``size`` bytes; its *payload* is those
bytes (header, then body).  :func:`read_request` / :func:`read_response` take
whole frames, :func:`parse_request` / :func:`parse_response` take payloads
whose prefix a transport has already removed.

Header versions follow Kafka: a request uses header v2 when its API version
is flexible and v1 otherwise; a response uses header v1 when flexible and v0
otherwise, except ApiVersions, whose response header is always v0.
"""
from __future__ import annotations

import struct

from kraft.protocol.codec import Output, as_byte_view
from kraft.protocol.exceptions import (
    BufferUnderflowError,
    FrameTooLargeError,
    InvalidFieldValueError,
    MalformedFrameError,
    ProtocolError,
    UnknownApiKeyError,
    UnsupportedVersionError,
)
from kraft.protocol.messages import API_MESSAGES, RequestHeader, ResponseHeader, UpdateRaftVoterRequestAdee

#: Kafka's ``socket.request.max.bytes`` default (100 MiB).
DEFAULT_MAX_FRAME_SIZE = 104_857_600

API_VERSIONS_KEY = 18
UPDATE_RAFT_VOTER_KEY = 82

_SIZE = struct.Struct(">i")
_REQUEST_PREFIX = struct.Struct(">hhi")


def _api(api_key: int, api_version=None, correlation_id=None):
    pair = API_MESSAGES.get(api_key)
    if pair is None:
        raise UnknownApiKeyError(f"unknown API key {api_key}", api_key=api_key,
                                 api_version=api_version, correlation_id=correlation_id)
    return pair


def request_header_version(api_key: int, api_version: int) -> int:
    """The request header version Kafka uses for ``api_key`` at ``api_version`` (1 or 2)."""
    request_class, _ = _api(api_key, api_version=api_version)
    return 2 if api_version in request_class.flexible_versions else 1


def response_header_version(api_key: int, api_version: int) -> int:
    """The response header version Kafka uses for ``api_key`` at ``api_version`` (0 or 1)."""
    _, response_class = _api(api_key, api_version=api_version)
    if api_key == API_VERSIONS_KEY:
        return 0
    return 1 if api_version in response_class.flexible_versions else 0


def frame_payload(frame, max_size: int = DEFAULT_MAX_FRAME_SIZE) -> memoryview:
    """Check a frame's size prefix against its length and ``max_size``; return the payload (no copy)."""
    buf = as_byte_view(frame)
    if len(buf) < 4:
        raise MalformedFrameError(f"truncated frame: {len(buf)} bytes, no complete size prefix")
    (size,) = _SIZE.unpack_from(buf, 0)
    if size < 0:
        raise MalformedFrameError(f"invalid frame size {size}")
    if size > max_size:
        raise FrameTooLargeError(size, max_size)
    if len(buf) - 4 < size:
        raise MalformedFrameError(f"truncated frame: size prefix says {size} bytes, only {len(buf) - 4} follow")
    if len(buf) - 4 > size:
        raise MalformedFrameError(
            f"frame is longer than its size prefix: {len(buf) - 4} bytes follow, prefix says {size}")
    return buf[4:]


def read_request(frame, *, max_size: int = DEFAULT_MAX_FRAME_SIZE, reference_revision: bool = False):
    """Read a whole size-prefixed request frame; return ``(RequestHeader, message)``.

    ``reference_revision=True`` reads UpdateRaftVoter v0 requests in the form of
    Kafka's reference revision adee6f0cc11 (:class:`UpdateRaftVoterRequestAdee`)
    instead of Kafka 3.9.0's.
    """
    return parse_request(frame_payload(frame, max_size), reference_revision=reference_revision)


def parse_request(payload, *, reference_revision: bool = False):
    """Read a request payload (header and body, no size prefix); return ``(RequestHeader, message)``.

    Errors carry the API key, version and correlation id when they could be
    read, and the parsed header (``error.header``) when the whole header was read.
    """
    buf = as_byte_view(payload)
    if len(buf) < _REQUEST_PREFIX.size:
        raise BufferUnderflowError(f"request of {len(buf)} bytes is shorter than a request header")
    api_key, api_version, correlation_id = _REQUEST_PREFIX.unpack_from(buf, 0)
    context = {"api_key": api_key, "api_version": api_version, "correlation_id": correlation_id}
    request_class, _ = _api(**context)
    header_version = 2 if api_version in request_class.flexible_versions else 1
    try:
        header, pos = RequestHeader.decode_from(buf, header_version)
    except ProtocolError as e:
        raise e.with_context(**context)
    context["header"] = header
    if api_version not in request_class.valid_versions:
        raise UnsupportedVersionError(
            f"{request_class.name} version {api_version} is not supported "
            f"(valid versions {request_class.valid_versions!r})", **context)
    if reference_revision and api_key == UPDATE_RAFT_VOTER_KEY:
        request_class = UpdateRaftVoterRequestAdee
    try:
        message, _ = request_class.decode_from(buf, api_version, pos)
    except ProtocolError as e:
        raise e.with_context(**context)
    return header, message


def write_request(header, message) -> bytes:
    """The whole size-prefixed frame of ``message`` behind ``header`` (at ``header.request_api_version``)."""
    if not isinstance(header, RequestHeader):
        raise InvalidFieldValueError(f"expected a RequestHeader, got {header!r}")
    api_key = header.request_api_key
    version = header.request_api_version
    request_class, _ = _api(api_key, api_version=version, correlation_id=header.correlation_id)
    if getattr(message, "api_key", None) != api_key or not message.name.endswith("Request"):
        raise InvalidFieldValueError(
            f"header is for API key {api_key} but the message is {type(message).__name__}",
            api_key=api_key, api_version=version, correlation_id=header.correlation_id)
    header_version = 2 if version in request_class.flexible_versions else 1
    return _frame(header, header_version, message, version)


def read_response(frame, api_key: int, api_version: int, *, max_size: int = DEFAULT_MAX_FRAME_SIZE):
    """Read a whole size-prefixed response frame to a request of ``api_key`` at ``api_version``.

    Returns ``(ResponseHeader, message)``.
    """
    return parse_response(frame_payload(frame, max_size), api_key, api_version)


def parse_response(payload, api_key: int, api_version: int):
    """Read a response payload (header and body, no size prefix); return ``(ResponseHeader, message)``."""
    context = {"api_key": api_key, "api_version": api_version}
    _, response_class = _api(**context)
    if api_version not in response_class.valid_versions:
        raise UnsupportedVersionError(
            f"{response_class.name} version {api_version} is not supported "
            f"(valid versions {response_class.valid_versions!r})", **context)
    buf = as_byte_view(payload)
    try:
        header, pos = ResponseHeader.decode_from(buf, response_header_version(api_key, api_version))
        context["correlation_id"] = header.correlation_id
        context["header"] = header
        message, _ = response_class.decode_from(buf, api_version, pos)
    except ProtocolError as e:
        raise e.with_context(**context)
    return header, message


def write_response(header, message, api_key: int, api_version: int, vectored: bool = False):
    """The whole size-prefixed frame of response ``message`` behind ``header``.

    With ``vectored``, a frame that holds a large ``records`` or ``bytes`` value comes as a list of
    buffers (see :meth:`Output.parts`) that reference that value instead of copying it; their
    concatenation is the frame.  Otherwise, and for every other frame, one ``bytes``.
    """
    if not isinstance(header, ResponseHeader):
        raise InvalidFieldValueError(f"expected a ResponseHeader, got {header!r}")
    context = {"api_key": api_key, "api_version": api_version, "correlation_id": header.correlation_id}
    _, response_class = _api(**context)
    if type(message) is not response_class:
        raise InvalidFieldValueError(
            f"API key {api_key} answers with {response_class.name}, not {type(message).__name__}", **context)
    return _frame(header, response_header_version(api_key, api_version), message, api_version, vectored)


def _frame(header, header_version: int, message, version: int, vectored: bool = False):
    out = Output()
    try:
        header.encode_into(header_version, out)
        message.encode_into(version, out)
    except ProtocolError as e:
        raise e.with_context(api_key=message.api_key, api_version=version,
                             correlation_id=header.correlation_id)
    return out.parts(_SIZE.pack(out.size)) if vectored else out.getvalue(_SIZE.pack(out.size))
