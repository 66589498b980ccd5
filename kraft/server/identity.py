"""The fixed identity of Kafka's test server, so Kafka's own nodes could share the quorum."""
from __future__ import annotations

from kraft.protocol.uuid import Uuid

#: The replicated partition: ``__raft_performance_test``-0.
TOPIC_NAME = "__raft_performance_test"
PARTITION = 0
#: ``new Uuid(0, 2)``: chosen by Kafka not to collide with ``__cluster_metadata``'s id (0, 1).
TOPIC_ID = Uuid.from_bits(0, 2)
#: ``Uuid.ZERO_UUID.toString()``, sent in every KRaft request.
CLUSTER_ID = str(Uuid.ZERO)
