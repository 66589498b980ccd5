"""Exceptions raised by the storage layer.

Every error that concerns a file names that file, so an operator can find it.
"""
from __future__ import annotations

import os
from typing import Optional

from kraft.errors import KraftError


class StorageError(KraftError):
    """A durable-state file is missing, malformed or inconsistent.

    ``path`` is the file (or directory) at fault when there is one.
    """

    def __init__(self, message: str, path: Optional[os.PathLike | str] = None):
        if path is not None:
            message = f"{os.fspath(path)}: {message}"
        super().__init__(message)
        self.path = None if path is None else os.fspath(path)


class QuorumStateError(StorageError):
    """The ``quorum-state`` file cannot be read or is of an unknown version."""


class MetaPropertiesError(StorageError):
    """``meta.properties`` is malformed or disagrees with the configuration."""


class LeaderEpochCheckpointError(StorageError):
    """The ``leader-epoch-checkpoint`` file is malformed."""


class CorruptSnapshotError(StorageError):
    """A snapshot file is not a valid sequence of batches or misses its header."""


class InvalidAppendError(KraftError):
    """Batches handed to an append do not continue the log.

    Raised for non-contiguous or backward offsets, an epoch that goes back,
    an empty append, or a batch that fails validation (CRC, size, magic).
    The log is unchanged when it is raised.
    """


class RecordBatchTooLargeError(KraftError, ValueError):
    """Records handed to one append cannot fit one batch of the maximum size
    (Kafka's ``RecordBatchTooLargeException``)."""


class OffsetOutOfRangeError(KraftError, ValueError):
    """A read names an offset outside ``[start, end]``."""
