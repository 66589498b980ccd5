"""The ``quorum-state`` file: the election state, persisted before it takes effect.

The file is one line of JSON with no trailing newline, written the way
Kafka's ``FileQuorumStateStore`` writes it (key order included, no spaces):

* ``data_version`` 0 (kraft.version 0, static voters)::

    {"clusterId":"","leaderId":-1,"leaderEpoch":5,"votedId":2,"appliedOffset":0,
     "currentVoters":[{"voterId":1},{"voterId":2},{"voterId":3}],"data_version":0}

* ``data_version`` 1 (kraft.version 1), which also keeps the voted
  candidate's directory id::

    {"leaderId":-1,"leaderEpoch":6,"votedId":3,"votedDirectoryId":"ASNFZ4mrze9-3LqYdlQyEA","data_version":1}

A write goes to ``quorum-state.tmp``, is fsynced, renamed over the file and
the directory is fsynced, so a crash leaves either the old or the new state.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Optional

from kraft.core.types import ElectionState, ReplicaKey
from kraft.errors import KraftError
from kraft.protocol.messages import QuorumStateData
from kraft.protocol.uuid import Uuid
from kraft.storage.errors import QuorumStateError
from kraft.storage.fileutil import atomic_write

FILE_NAME = "quorum-state"
LOWEST_DATA_VERSION = 0
HIGHEST_DATA_VERSION = 1


def to_quorum_state_data(state: ElectionState) -> QuorumStateData:
    """``state`` as the file's message (no leader and no vote are -1 there)."""
    voted = state.voted_key
    return QuorumStateData(
        leader_id=-1 if state.leader_id is None else state.leader_id,
        leader_epoch=state.epoch,
        voted_id=-1 if voted is None else voted.id,
        voted_directory_id=Uuid.ZERO if voted is None else voted.directory_or_zero,
        current_voters=[QuorumStateData.Voter(voter_id=v) for v in sorted(state.voters)],
    )


def to_json(state: ElectionState, data_version: int) -> str:
    """The file's single line for ``state`` at ``data_version`` (0 or 1)."""
    if not LOWEST_DATA_VERSION <= data_version <= HIGHEST_DATA_VERSION:
        raise ValueError(
            f"quorum-state data_version {data_version} is not within "
            f"{LOWEST_DATA_VERSION}..{HIGHEST_DATA_VERSION}"
        )
    doc = to_quorum_state_data(state).to_json(data_version)
    doc["data_version"] = data_version
    return json.dumps(doc, separators=(",", ":"), ensure_ascii=False)


def from_json(line: str) -> ElectionState:
    """Parse one line as Kafka reads it; ``ValueError`` says what is wrong."""
    try:
        doc = json.loads(line)
    except json.JSONDecodeError as e:
        raise ValueError(f"not JSON: {e}") from None
    if not isinstance(doc, dict):
        raise ValueError("not a JSON object")
    if "data_version" not in doc:
        raise ValueError("no data_version field")
    version = doc["data_version"]
    if not isinstance(version, int) or isinstance(version, bool):
        raise ValueError(f"data_version is not an integer: {version!r}")
    if not LOWEST_DATA_VERSION <= version <= HIGHEST_DATA_VERSION:
        raise ValueError(
            f"data_version ({version}) is not within the min ({LOWEST_DATA_VERSION}) "
            f"and max ({HIGHEST_DATA_VERSION}) supported version"
        )
    try:
        data = QuorumStateData.from_json(doc, version)
    except (KraftError, ValueError, TypeError) as e:
        raise ValueError(str(e)) from None
    if data.leader_epoch < 0:
        raise ValueError(f"leaderEpoch is negative: {data.leader_epoch}")
    leader = None if data.leader_id < 0 else data.leader_id
    voted = None
    if data.voted_id >= 0:
        voted = ReplicaKey.of(data.voted_id, data.voted_directory_id if version >= 1 else None)
    voters = frozenset(v.voter_id for v in data.current_voters) if version == 0 else frozenset()
    return ElectionState(data.leader_epoch, leader, voted, voters)


class QuorumStateStore:
    """Reads and writes ``<partition dir>/quorum-state`` atomically."""

    def __init__(self, path: os.PathLike | str):
        self.path = Path(path)

    def read_election_state(self) -> Optional[ElectionState]:
        """The stored state, or ``None`` when no file exists yet.

        Raises :class:`QuorumStateError` (naming the file) for bad JSON,
        missing fields or an unknown ``data_version``.
        """
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as e:
            raise QuorumStateError(f"cannot read: {e}", self.path) from e
        first_line = raw.split(b"\n", 1)[0].rstrip(b"\r")
        if not first_line:
            raise QuorumStateError("file is empty", self.path)
        try:
            return from_json(first_line.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as e:
            raise QuorumStateError(f"invalid quorum state: {e}", self.path) from None

    def write_election_state(self, state: ElectionState, kraft_version: int = 0) -> None:
        """Persist ``state``; kraft.version 0 writes data_version 0, 1 writes 1."""
        if kraft_version not in (0, 1):
            raise ValueError(f"unsupported kraft.version {kraft_version}")
        atomic_write(self.path, to_json(state, kraft_version).encode("utf-8"))

    def clear(self) -> None:
        """Remove the file (and a stale temp file) if present."""
        for p in (self.path, self.path.with_name(self.path.name + ".tmp")):
            try:
                p.unlink()
            except FileNotFoundError:
                pass
