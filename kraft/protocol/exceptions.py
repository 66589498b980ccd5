"""The protocol layer's exceptions.

Every error the codec raises on bad input or an impossible request is a
:class:`ProtocolError`.  What could be read of the request travels with it
(``api_key``, ``api_version``, ``correlation_id``, and ``header`` when the
whole header was read), so a server can answer with Kafka's error response
or close the connection.
"""
from __future__ import annotations

from kraft.errors import KraftError


class ProtocolError(KraftError):
    """Base class: a frame or message could not be read or written."""

    def __init__(self, message: str, *, api_key=None, api_version=None,
                 correlation_id=None, header=None):
        super().__init__(message)
        self.api_key = api_key
        self.api_version = api_version
        self.correlation_id = correlation_id
        self.header = header

    def with_context(self, *, api_key=None, api_version=None, correlation_id=None, header=None):
        """Fill in whatever request context is not yet known; return self for ``raise``."""
        if self.api_key is None:
            self.api_key = api_key
        if self.api_version is None:
            self.api_version = api_version
        if self.correlation_id is None:
            self.correlation_id = correlation_id
        if self.header is None:
            self.header = header
        return self


class MalformedFrameError(ProtocolError):
    """The size prefix disagrees with the bytes that follow it, or is negative."""


class FrameTooLargeError(MalformedFrameError):
    """The size prefix is over the configured maximum frame size."""

    def __init__(self, size: int, max_size: int, **context):
        super().__init__(f"frame of {size} bytes is over the maximum of {max_size}", **context)
        self.size = size
        self.max_size = max_size


class UnknownApiKeyError(ProtocolError):
    """The request names an API key this codec does not know."""


class UnsupportedVersionError(ProtocolError):
    """A version outside an API's valid versions, or a field that cannot be written at a version."""


class MalformedMessageError(ProtocolError):
    """A message body (or header) is not a valid encoding of its schema."""


class BufferUnderflowError(MalformedMessageError):
    """The input ended in the middle of a value."""


class InvalidLengthError(MalformedMessageError):
    """A negative length where none is allowed, or a length or count beyond the remaining bytes."""


class InvalidStringError(MalformedMessageError):
    """A string is not valid UTF-8 or is longer than 32767 bytes."""


class InvalidVarintError(MalformedMessageError):
    """A varint runs over 5 bytes (or a varlong over 10)."""


class InvalidTaggedFieldError(MalformedMessageError):
    """A known tag appears in a version where it is not a tagged field."""


class NullFieldError(MalformedMessageError):
    """A non-nullable field holds (or was read as) null."""


class InvalidFieldValueError(ProtocolError, ValueError):
    """A value cannot be encoded: wrong type, out of range, or not nullable; or bad JSON."""
