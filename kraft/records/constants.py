"""Fixed facts of the record batch format (magic 2), shared by both codecs."""

#: Bytes before ``batchLength`` is counted: baseOffset (8) + batchLength (4).
LOG_OVERHEAD = 12
#: Size of a batch header; the records (or their compressed stream) follow it.
RECORD_BATCH_OVERHEAD = 61
#: The only batch format this package reads and writes.
MAGIC = 2
#: Smallest legal ``batchLength`` (a header and no records).
MIN_BATCH_LENGTH = RECORD_BATCH_OVERHEAD - LOG_OVERHEAD
#: Default cap on one batch's size when reading (KRaft itself writes at most 8 MiB).
MAX_BATCH_SIZE = 64 * 1024 * 1024
#: The largest batch KRaft writes, and a fetch's default ask (Kafka's
#: ``KafkaRaftClient.MAX_BATCH_SIZE_BYTES``): a leader's batch, a snapshot's batch.
KRAFT_MAX_BATCH_SIZE = 8 * 1024 * 1024

# Byte positions inside the header.
BATCH_LENGTH_OFFSET = 8
PARTITION_LEADER_EPOCH_OFFSET = 12
MAGIC_OFFSET = 16
CRC_OFFSET = 17
ATTRIBUTES_OFFSET = 21  # the CRC covers everything from here to the end

# Attribute bits.
COMPRESSION_MASK = 0x07
TIMESTAMP_TYPE_MASK = 0x08
TRANSACTIONAL_MASK = 0x10
CONTROL_MASK = 0x20
DELETE_HORIZON_MASK = 0x40

CREATE_TIME = "CreateTime"
LOG_APPEND_TIME = "LogAppendTime"
