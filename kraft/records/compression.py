"""The compression codecs of record batches, in the stream formats Kafka uses.

The compressed stream replaces the records of a batch (everything after the
61-byte header).  Codec ids are the low three bits of the batch attributes:

====  ======  ==========================================================
id    name    stream format
====  ======  ==========================================================
0     none
1     gzip    a gzip member (several members are read one after another)
2     snappy  snappy-java's (xerial) framing around raw snappy blocks
3     lz4     an LZ4 frame with independent 64 KiB blocks, no checksums
4     zstd    a zstd frame
====  ======  ==========================================================

gzip and lz4 are always available; snappy needs ``cramjam``
(``pip install kraft[snappy]``) and zstd needs ``zstandard``
(``pip install kraft[zstd]``).  ``decompress`` never produces more than
``limit`` bytes: a stream that would is reported as corrupt.
"""
from __future__ import annotations

import zlib

from kraft.errors import MissingDependencyError

__all__ = [
    "CODEC_IDS",
    "CODEC_NAMES",
    "DecompressionError",
    "MAX_DECOMPRESSED_SIZE",
    "codec_id",
    "compress",
    "decompress",
]

CODEC_NAMES = ("none", "gzip", "snappy", "lz4", "zstd")
CODEC_IDS = {name: index for index, name in enumerate(CODEC_NAMES)}

#: Default cap on the records of one compressed batch once decompressed.
MAX_DECOMPRESSED_SIZE = 128 * 1024 * 1024

_GZIP_LEVEL = 6  # java.util.zip.Deflater's default, which Kafka's gzip uses
_ZSTD_LEVEL = 3  # Kafka's default zstd level
_SNAPPY_MAGIC = b"\x82SNAPPY\x00"
_SNAPPY_HEADER = _SNAPPY_MAGIC + (1).to_bytes(4, "big") + (1).to_bytes(4, "big")
_SNAPPY_BLOCK = 32 * 1024  # snappy-java's default block size
_ZSTD_FEED = 1024  # input fed per step when the frame does not state its size


class DecompressionError(ValueError):
    """A compressed stream is corrupt, truncated or larger than allowed."""


def codec_id(compression: str | int) -> int:
    """The attribute bits of a codec given by name (``"lz4"``) or id."""
    if isinstance(compression, str):
        try:
            return CODEC_IDS[compression.lower()]
        except KeyError:
            raise ValueError(
                f"unknown compression {compression!r}; expected one of {', '.join(CODEC_NAMES)}"
            ) from None
    if isinstance(compression, int) and 0 <= compression < len(CODEC_NAMES):
        return compression
    raise ValueError(f"unknown compression {compression!r}; expected one of {', '.join(CODEC_NAMES)}")


def _cramjam():
    try:
        import cramjam
    except ImportError:
        raise MissingDependencyError(
            "snappy compression needs the cramjam library: pip install kraft[snappy]"
        ) from None
    return cramjam


def _zstandard():
    try:
        import zstandard
    except ImportError:
        raise MissingDependencyError(
            "zstd compression needs the zstandard library: pip install kraft[zstd]"
        ) from None
    return zstandard


def compress(codec: int, data) -> bytes:
    """Compress the records ``data`` (a bytes-like object) with ``codec``."""
    if codec == 1:
        deflate = zlib.compressobj(_GZIP_LEVEL, zlib.DEFLATED, 31)
        return deflate.compress(data) + deflate.flush()
    if codec == 2:
        return _snappy_compress(data)
    if codec == 3:
        import lz4.frame

        return lz4.frame.compress(
            data,
            block_size=lz4.frame.BLOCKSIZE_MAX64KB,
            block_linked=False,
            content_checksum=False,
            block_checksum=False,
            store_size=False,
        )
    if codec == 4:
        return _zstandard().ZstdCompressor(level=_ZSTD_LEVEL).compress(data)
    raise ValueError(f"codec {codec} does not compress")


def decompress(codec: int, data, limit: int = MAX_DECOMPRESSED_SIZE) -> bytes:
    """Decompress ``data``; raise ``DecompressionError`` if it is corrupt,
    truncated, followed by garbage or longer than ``limit`` bytes."""
    name = CODEC_NAMES[codec] if 0 < codec < len(CODEC_NAMES) else str(codec)
    try:
        if codec == 1:
            return _gzip_decompress(data, limit)
        if codec == 2:
            return _snappy_decompress(data, limit)
        if codec == 3:
            return _lz4_decompress(data, limit)
        if codec == 4:
            return _zstd_decompress(data, limit)
    except DecompressionError as exc:
        raise DecompressionError(f"corrupt {name} data: {exc}") from None
    except MissingDependencyError:
        raise
    except Exception as exc:  # each library has its own error types
        raise DecompressionError(f"corrupt {name} data: {exc}") from exc
    raise DecompressionError(f"unknown compression codec {codec}")


def _too_large(limit: int) -> DecompressionError:
    return DecompressionError(f"more than {limit} bytes once decompressed")


def _gzip_decompress(data, limit: int) -> bytes:
    out = []
    size = 0
    rest = bytes(data)
    while True:
        inflate = zlib.decompressobj(31)
        chunk = inflate.decompress(rest, limit - size + 1)
        size += len(chunk)
        out.append(chunk)
        if size > limit:
            raise _too_large(limit)
        if not inflate.eof:
            if inflate.unconsumed_tail:
                raise _too_large(limit)
            raise DecompressionError("the gzip stream is truncated")
        rest = inflate.unused_data
        if not rest:
            return b"".join(out)


def _lz4_decompress(data, limit: int) -> bytes:
    import lz4.frame

    decompressor = lz4.frame.LZ4FrameDecompressor()
    result = decompressor.decompress(data, max_length=limit + 1)
    if len(result) > limit:
        raise _too_large(limit)
    if not decompressor.eof:
        raise DecompressionError("the lz4 frame is truncated")
    if decompressor.unused_data:
        raise DecompressionError(f"{len(decompressor.unused_data)} bytes after the lz4 frame")
    return result


def _snappy_compress(data) -> bytes:
    snappy = _cramjam().snappy
    view = memoryview(data).cast("B")
    parts = [_SNAPPY_HEADER]
    for start in range(0, len(view), _SNAPPY_BLOCK):
        block = bytes(snappy.compress_raw(view[start : start + _SNAPPY_BLOCK]))
        parts.append(len(block).to_bytes(4, "big"))
        parts.append(block)
    return b"".join(parts)


def _snappy_block_length(block) -> int:
    """The uncompressed length a raw snappy block declares (its varint prefix)."""
    value = 0
    for index in range(min(5, len(block))):
        byte = block[index]
        value |= (byte & 0x7F) << (7 * index)
        if not byte & 0x80:
            return value
    raise DecompressionError("bad length prefix in a snappy block")


def _snappy_raw(snappy, block, budget: int) -> bytes:
    if _snappy_block_length(block) > budget:
        raise DecompressionError("a snappy block is larger than allowed")
    return bytes(snappy.decompress_raw(block))


def _snappy_decompress(data, limit: int) -> bytes:
    snappy = _cramjam().snappy
    view = memoryview(data).cast("B")
    if view[: len(_SNAPPY_MAGIC)] != _SNAPPY_MAGIC:
        # snappy-java reads a stream without its header as one raw block.
        return _snappy_raw(snappy, view, limit)
    if len(view) < len(_SNAPPY_HEADER):
        raise DecompressionError("the snappy stream header is truncated")
    out = []
    size = 0
    position = len(_SNAPPY_HEADER)
    while position < len(view):
        if len(view) - position < 4:
            raise DecompressionError(f"truncated snappy block length at {position}")
        length = int.from_bytes(view[position : position + 4], "big")
        position += 4
        if length > len(view) - position:
            raise DecompressionError(f"snappy block of {length} bytes at {position - 4} runs past the end")
        chunk = _snappy_raw(snappy, view[position : position + length], limit - size)
        size += len(chunk)
        out.append(chunk)
        position += length
    return b"".join(out)


def _zstd_decompress(data, limit: int) -> bytes:
    zstandard = _zstandard()
    view = memoryview(data).cast("B")
    if zstandard.frame_content_size(view) > limit:
        raise _too_large(limit)
    # Kafka's frames do not state their size, and a stated size may lie: feed
    # the frame a little at a time so it cannot expand far past the limit.
    decompressor = zstandard.ZstdDecompressor()
    stream = decompressor.decompressobj()
    out = []
    size = 0
    for start in range(0, len(view), _ZSTD_FEED):
        chunk = stream.decompress(view[start : start + _ZSTD_FEED])
        size += len(chunk)
        if size > limit:
            raise _too_large(limit)
        out.append(chunk)
        if stream.eof:
            break
    if not stream.eof:
        raise DecompressionError("the zstd frame is truncated")
    if stream.unused_data or start + _ZSTD_FEED < len(view):
        raise DecompressionError("bytes after the zstd frame")
    return b"".join(out)
