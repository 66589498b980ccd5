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
from kraft.protocol.uuid import Uuid

__all__ = [
    "Uuid",
    "ProtocolError", "MalformedFrameError", "FrameTooLargeError", "UnknownApiKeyError",
    "UnsupportedVersionError", "MalformedMessageError", "BufferUnderflowError",
    "InvalidLengthError", "InvalidStringError", "InvalidVarintError",
    "InvalidTaggedFieldError", "NullFieldError", "InvalidFieldValueError",
]
