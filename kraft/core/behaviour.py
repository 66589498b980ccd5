"""Which Kafka a :class:`~kraft.core.node.RaftNode` behaves like on the wire."""

#: Kafka 3.9.0 (the default).
KAFKA_3_9 = "3.9"
#: Behave like Kafka at the reference revision (adee6f0cc11): what it sends
#: (VoterId -1/0, no directory ids, no leader endpoints, only
#: PreferredSuccessors), its strict voter-key check, and BeginQuorumEpoch
#: until acknowledged instead of periodically.  For interoperability tests.
REFERENCE_REVISION = "reference"
