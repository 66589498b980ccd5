"""A node's durable state on disk, in Kafka's layout.

* :class:`FileReplicatedLog` - the raft partition's log (segments, indexes,
  leader-epoch checkpoint, snapshots), implementing
  :class:`kraft.core.log.ReplicatedLog`;
* :class:`QuorumStateStore` / :class:`ElectionState` - the ``quorum-state`` file;
* :class:`LogDirectory` - ``meta.properties``, ``.lock`` and the partition directory;
* :class:`FileRawSnapshotWriter` / :class:`FileRawSnapshotReader` - snapshot files,
  :class:`RecordsSnapshotWriter` - header, data and footer batches in them;
* :class:`FlushPolicy` / :class:`LogConfig` - how the log is configured
  (segments, flushing, retention of snapshots, the delay before deleted files go).
"""
from kraft.storage.errors import (
    CorruptSnapshotError,
    InvalidAppendError,
    LeaderEpochCheckpointError,
    MetaPropertiesError,
    OffsetOutOfRangeError,
    QuorumStateError,
    RecordBatchTooLargeError,
    StorageError,
)
from kraft.storage.flush import FlushPolicy
from kraft.storage.log_dir import LogDirectory, MetaProperties, choose_log_dir
from kraft.storage.quorum_state import ElectionState, QuorumStateStore
from kraft.storage.replicated_log import FileReplicatedLog, LogConfig
from kraft.storage.snapshots import (
    FileRawSnapshotReader,
    FileRawSnapshotWriter,
    RecordsSnapshotWriter,
    parse_snapshot_path,
    snapshot_file_name,
)

__all__ = [
    "CorruptSnapshotError", "ElectionState", "FileRawSnapshotReader", "FileRawSnapshotWriter",
    "FileReplicatedLog", "FlushPolicy", "InvalidAppendError", "LeaderEpochCheckpointError",
    "LogConfig", "LogDirectory", "MetaProperties", "MetaPropertiesError",
    "OffsetOutOfRangeError", "QuorumStateError", "QuorumStateStore", "RecordBatchTooLargeError",
    "RecordsSnapshotWriter",
    "StorageError",
    "choose_log_dir", "parse_snapshot_path", "snapshot_file_name",
]
