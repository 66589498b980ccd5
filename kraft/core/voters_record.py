"""The Voters record (KIP-853) a leader writes: a voter set as Kafka's ``VotersRecord``.

A leader that changes the voters appends one control batch holding one ``VotersRecord``
(value version 0), as Kafka's ``BatchAccumulator.appendVotersRecord`` does; a new leader at
kraft.version 1 puts KRaftVersion and Voters after its LeaderChange when due.  Reading them
back (followers, restarts, snapshots) is :class:`kraft.core.quorum_state.VoterSetHistory`'s.
"""
from __future__ import annotations

from kraft.core.types import VoterSet
from kraft.protocol import messages

__all__ = ["KRAFT_VERSION_RECORD_VERSION", "VOTERS_RECORD_VERSION", "kraft_version_record", "voters_record"]

#: Kafka's VotersRecord and KRaftVersionRecord value versions (ControlRecordUtils.*_CURRENT_VERSION).
VOTERS_RECORD_VERSION = 0
KRAFT_VERSION_RECORD_VERSION = 0


def voters_record(voters: VoterSet) -> "messages.VotersRecord":
    """Kafka's ``VoterSet.toVotersRecord``: each voter's key, listeners and kraft.version range."""
    m = messages.VotersRecord
    return m(version=VOTERS_RECORD_VERSION, voters=[
        m.Voter(voter_id=v.key.id, voter_directory_id=v.key.directory_or_zero,
                endpoints=[m.Endpoint(name=e.name, host=e.host, port=e.port) for e in v.endpoints],
                kraft_version_feature=m.KRaftVersionFeature(min_supported_version=v.kraft_versions[0],
                                                           max_supported_version=v.kraft_versions[1]))
        for v in voters.voters()])


def kraft_version_record(kraft_version: int) -> "messages.KRaftVersionRecord":
    return messages.KRaftVersionRecord(version=KRAFT_VERSION_RECORD_VERSION, kraft_version=kraft_version)
