"""Kafka's wire protocol for the KRaft layer: primitives, framing, every KRaft message.

Messages are plain Python objects built from schemas declared as data
(:mod:`kraft.protocol.schemas`) and encoded by one generic codec
(:mod:`kraft.protocol.codec`); see :mod:`kraft.protocol.messages` for the
classes.  Uuids are :class:`Uuid`.
"""
from kraft.protocol.exceptions import (
    BufferUnderflowError,
    FrameTooLargeError,
    InvalidFieldValueError,
    InvalidLengthError,
    InvalidStringError,
    InvalidTaggedFieldError,
    InvalidVarintError,
    MalformedFrameError,
    MalformedMessageError,
    NullFieldError,
    ProtocolError,
    UnknownApiKeyError,
    UnsupportedVersionError,
)
from kraft.protocol.frames import (
    DEFAULT_MAX_FRAME_SIZE,
    parse_request,
    parse_response,
    read_request,
    read_response,
    request_header_version,
    response_header_version,
    write_request,
    write_response,
)
from kraft.protocol.messages import RequestHeader, ResponseHeader
from kraft.protocol.uuid import Uuid

__all__ = [
    "Uuid", "RequestHeader", "ResponseHeader", "DEFAULT_MAX_FRAME_SIZE",
    "read_request", "write_request", "read_response", "write_response",
    "parse_request", "parse_response", "request_header_version", "response_header_version",
    "ProtocolError", "MalformedFrameError", "FrameTooLargeError", "UnknownApiKeyError",
    "UnsupportedVersionError", "MalformedMessageError", "BufferUnderflowError",
    "InvalidLengthError", "InvalidStringError", "InvalidVarintError",
    "InvalidTaggedFieldError", "NullFieldError", "InvalidFieldValueError",
]
