"""create_snapshot through the real storage layer: Kafka's snapshot control records around the
state machine's data, and retention moving the on-disk log start (through ``CleanLog``)."""
import random

from kraft.client import RaftClient
from kraft.core.apply import SnapshotDownloads, apply_output
from kraft.core.config import QuorumConfig
from kraft.core.log import OffsetAndEpoch
from kraft.core.node import LOG_CLEAN_INTERVAL_MS, RaftNode
from kraft.core.types import Endpoint, Endpoints, ReplicaKey, Voter, VoterSet
from kraft.records.control import ControlRecordType, decode_control_record
from kraft.server.batches import encode_leader_batch, read_committed_batches
from kraft.storage.replicated_log import FileReplicatedLog, LogConfig
from kraft.storage.snapshots import RecordsSnapshotWriter


class _Driver:
    def __init__(self, tmp_path, retention):
        self.now = 0
        self.log = FileReplicatedLog.open(tmp_path, LogConfig(segment_bytes=400, retention_max_bytes=retention,
                                                              file_delete_delay_ms=0), lambda: self.now)
        voters = VoterSet([Voter(ReplicaKey(1), Endpoints([Endpoint("CONTROLLER", "localhost", 9093)]))])
        node = RaftNode(node_id=1, cluster_id="c", voters=voters, log=self.log, rng=random.Random(1),
                        config=QuorumConfig(append_linger_ms=0))
        self.client = RaftClient(
            node, read_committed_batches,
            snapshot_writer=lambda raw, ts: RecordsSnapshotWriter(raw, ts, lambda: self.now))
        self.apply(self.client.start(0))

    def write_election_state(self, election):
        pass

    def _downloads(self) -> SnapshotDownloads:
        """The snapshot downloads into the current log (a new log starts with none)."""
        if getattr(self, "_downloads_log", None) is not self.log:
            self._downloads_log, self._snapshot_downloads = self.log, SnapshotDownloads()
        return self._snapshot_downloads

    def apply(self, output):
        apply_output(output, log=self.log, store=self, transport=None, encode_batch=encode_leader_batch,
                     downloads=self._downloads())

    def poll(self):
        self.apply(self.client.poll(self.now))


def _commit(driver, n):
    for i in range(n):
        driver.client.schedule_append(1, [b"value-%03d" % i])
        driver.poll()
        driver.poll()
    driver.poll()


def test_snapshot_file_has_header_data_and_footer(tmp_path):
    driver = _Driver(tmp_path, retention=-1)
    _commit(driver, 4)
    hw = driver.log.high_watermark
    writer = driver.client.create_snapshot(OffsetAndEpoch(hw, 1), last_contained_log_time_ms=777)
    writer.append([b"state-a", b"state-b"])
    writer.freeze()
    assert driver.client.latest_snapshot_id() == OffsetAndEpoch(hw, 1)
    reader = driver.log.read_snapshot(OffsetAndEpoch(hw, 1))
    batches = list(reader.record_batches())
    first, last = batches[0], batches[-1]
    kind, header = decode_control_record(next(iter(first)))
    assert kind is ControlRecordType.SNAPSHOT_HEADER and header.last_contained_log_timestamp == 777
    assert decode_control_record(next(iter(last)))[0] is ControlRecordType.SNAPSHOT_FOOTER
    data = [bytes(r.value) for b in batches[1:-1] for r in b]
    assert data == [b"state-a", b"state-b"]
    assert reader.last_contained_log_timestamp() == 777
    driver.log.close()


def test_retention_moves_the_on_disk_log_start_to_the_newer_snapshot(tmp_path):
    driver = _Driver(tmp_path, retention=0)
    _commit(driver, 20)
    first = OffsetAndEpoch(10, 1)
    driver.client.create_snapshot(first, 0).freeze()
    _commit(driver, 1)
    second = OffsetAndEpoch(driver.log.high_watermark, 1)
    driver.client.create_snapshot(second, 0).freeze()
    assert driver.log.start_offset == 0
    driver.now = LOG_CLEAN_INTERVAL_MS
    driver.poll()
    assert driver.log.start_offset == second.offset
    assert driver.log.earliest_snapshot_id() == second
    driver.log.close()
