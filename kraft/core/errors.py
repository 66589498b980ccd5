"""Errors raised by the Raft core and the application API."""
from __future__ import annotations

from kraft.errors import KraftError


class RaftError(KraftError):
    """Base class of the Raft layer's errors."""


class FatalRaftError(RaftError):
    """The node met a state Kafka treats as fatal (its fault handler stops the process).

    For example: a partition-level INVALID_REQUEST in a response, an
    inconsistent leader for an epoch, or a truncation below the high watermark.
    """


class IllegalTransitionError(FatalRaftError):
    """A state transition not allowed by the transition table or its preconditions."""


class NotLeaderError(RaftError):
    """The request was refused: this node is not the leader of that epoch (any more).

    ``leader_id`` and ``epoch`` are what the node knows of the current leader
    (``leader_id`` ``None`` when unknown, during an election say), and
    ``leader_endpoint`` its ``(host, port)`` on the controller listener when
    known, so that an application can forward the request there.
    """

    def __init__(self, message: str = "", *, leader_id=None, epoch=None, leader_endpoint=None):
        super().__init__(message)
        self.leader_id = leader_id
        self.epoch = epoch
        self.leader_endpoint = leader_endpoint


class StaleEpochError(NotLeaderError):
    """The append named an epoch older than the leader's current epoch."""


class InvalidEpochError(RaftError, ValueError):
    """The append named an epoch newer than this node's epoch."""


class RecordBatchTooLargeError(RaftError, ValueError):
    """An atomic append does not fit in one batch of the maximum size."""


class UnexpectedBaseOffsetError(RaftError):
    """An atomic append's required base offset is not the next offset."""


class ShutdownError(RaftError):
    """The client is shutting down or shut down."""
