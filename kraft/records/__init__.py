"""Kafka record batches (magic 2): encode, decode, validate.

``encode_batch(records, ...)`` builds one batch; ``decode_batches(buffer)``
iterates over the batches of a buffer; ``Record`` and ``RecordBatch`` are the
values they take and give.  The Cython codec is used unless it is missing or
``KRAFT_NO_EXTENSIONS=1``; ``IMPLEMENTATION`` says which one is active.
"""
import os

from kraft.records.compression import CODEC_NAMES, MAX_DECOMPRESSED_SIZE
from kraft.records.constants import (
    CREATE_TIME,
    LOG_APPEND_TIME,
    LOG_OVERHEAD,
    MAX_BATCH_SIZE,
    RECORD_BATCH_OVERHEAD,
)

__all__ = [
    "BatchIterator",
    "CODEC_NAMES",
    "CREATE_TIME",
    "IMPLEMENTATION",
    "LOG_APPEND_TIME",
    "LOG_OVERHEAD",
    "MAX_BATCH_SIZE",
    "MAX_DECOMPRESSED_SIZE",
    "RECORD_BATCH_OVERHEAD",
    "Record",
    "RecordBatch",
    "decode_batches",
    "encode_batch",
]


def _native():
    if os.environ.get("KRAFT_NO_EXTENSIONS") == "1":
        return None
    try:
        from kraft._native import records
    except ImportError:
        return None
    return records


_implementation = _native()
if _implementation is None:
    from kraft.records import _pure as _implementation

    IMPLEMENTATION = "pure"
else:
    IMPLEMENTATION = "native"

Record = _implementation.Record
RecordBatch = _implementation.RecordBatch
BatchIterator = _implementation.BatchIterator
encode_batch = _implementation.encode_batch
decode_batches = _implementation.decode_batches
del _implementation
