"""Exceptions of the network layer."""
from __future__ import annotations

from kraft.errors import KraftError


class NetworkError(KraftError):
    """Base class of the transport's errors."""


class FrameError(NetworkError):
    """A size-prefixed frame is malformed (negative size, or cut short)."""


class FrameTooLargeError(FrameError):
    """A frame's size prefix exceeds the configured maximum."""

    def __init__(self, size: int, max_bytes: int):
        super().__init__(f"frame of {size} bytes exceeds the maximum of {max_bytes} bytes")
        self.size = size
        self.max_bytes = max_bytes


class InvalidRequestError(NetworkError):
    """A request Kafka's socket server would refuse by closing the connection."""


class DisconnectedError(NetworkError):
    """The connection to a peer was lost (or could not be made) before a response arrived."""


class RequestTimeoutError(NetworkError):
    """No response arrived within the request timeout."""


class BindError(NetworkError):
    """A listener could not bind its address (for example, the port is in use)."""
