"""A node's durable state on disk, in Kafka's layout.

* :class:`FileReplicatedLog` - the raft partition's log (segments, indexes,
  leader-epoch checkpoint, snapshots), implementing
  :class:`kraft.core.log.ReplicatedLog`;
* :class:`QuorumStateStore` / :class:`ElectionState` - the ``quorum-state`` file;
* :class:`LogDirectory` - ``meta.properties``, ``.lock`` and the partition directory;
* :class:`FileRawSnapshotWriter` / :class:`FileRawSnapshotReader` - snapshot files,
  :class:`RecordsSnapshotWriter` - header, data and footer batches in them;
* :class:`KRaftControlState` - kraft.version and the voter set as the snapshot
  and log say them; :func:`snapshot_writer_for` - a snapshot writer that
  carries them;
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
    SnapshotHeaderBatch,
    parse_snapshot_path,
    snapshot_file_name,
)
from kraft.storage.control_state import (
    KRaftControlRecordError,
    KRaftControlState,
    snapshot_writer_for,
)

__all__ = [
    "CorruptSnapshotError", "ElectionState", "FileRawSnapshotReader", "FileRawSnapshotWriter",
    "FileReplicatedLog", "FlushPolicy", "InvalidAppendError", "KRaftControlRecordError",
    "KRaftControlState", "LeaderEpochCheckpointError",
    "LogConfig", "LogDirectory", "MetaProperties", "MetaPropertiesError",
    "OffsetOutOfRangeError", "QuorumStateError", "QuorumStateStore", "RecordBatchTooLargeError",
    "RecordsSnapshotWriter", "SnapshotHeaderBatch",
    "StorageError",
    "choose_log_dir", "parse_snapshot_path", "snapshot_file_name", "snapshot_writer_for",
]
