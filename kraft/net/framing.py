"""Kafka's framing: every request and response is ``int32 size`` + ``size`` bytes."""
from __future__ import annotations

import struct

from kraft.net.errors import FrameError, FrameTooLargeError

#: Kafka's ``socket.request.max.bytes`` default (100 MiB).
DEFAULT_MAX_FRAME_BYTES = 104_857_600

_SIZE = struct.Struct(">i")


def encode_frame(payload: bytes) -> bytes:
    """Prefix ``payload`` with its size."""
    return _SIZE.pack(len(payload)) + payload


class FrameDecoder:
    """Cuts a byte stream into frame payloads (size prefixes removed).

    The size of a frame is checked as soon as its 4-byte prefix arrives, so an
    oversize or negative size is refused before anything is buffered for it.
    """

    __slots__ = ("_buffer", "_max_bytes")

    def __init__(self, max_frame_bytes: int = DEFAULT_MAX_FRAME_BYTES):
        self._buffer = bytearray()
        self._max_bytes = max_frame_bytes

    @property
    def buffered(self) -> int:
        """Bytes received but not yet returned as a complete frame."""
        return len(self._buffer)

    def feed(self, data: bytes) -> list[bytes]:
        """Add received bytes; return the payloads of the frames now complete.

        Raises :class:`FrameTooLargeError` or :class:`FrameError` for a bad size
        prefix; the decoder is then unusable (close the connection).
        """
        buffer = self._buffer
        if not buffer:
            # Nothing pending: cut the frames straight out of ``data`` (one copy each).
            frames, pos = self._cut(data)
            if pos < len(data):
                buffer += memoryview(data)[pos:]
            return frames
        buffer += data
        with memoryview(buffer) as view:
            frames, pos = self._cut(view)
        if pos:
            del buffer[:pos]
        return frames

    def _cut(self, data) -> tuple[list[bytes], int]:
        """The complete frames at the start of ``data`` (bytes-like) and where they end."""
        frames = []
        pos = 0
        end = len(data)
        max_bytes = self._max_bytes
        while end - pos >= 4:
            (size,) = _SIZE.unpack_from(data, pos)
            if size < 0:
                raise FrameError(f"invalid frame size {size}")
            if size > max_bytes:
                raise FrameTooLargeError(size, max_bytes)
            if end - pos - 4 < size:
                break
            frames.append(bytes(data[pos + 4:pos + 4 + size]))
            pos += 4 + size
        return frames, pos
