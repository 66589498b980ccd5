"""Kafka's DumpLogSegments (3.9.2 and 4.4.0 jars) reads kraft's files exactly as it reads Kafka's own.

A kraft test server and Kafka's TestRaftServer each run a single-node quorum
briefly (data batches and the LeaderChange control batch); kraft also writes
snapshots.  Kafka's TestRaftServer never snapshots, so the Kafka-written
``.checkpoint`` file is the kraft.version 0 one Kafka 3.9.0 wrote for the golden vectors
(``tests/data/vectors/kafka-3.9/files.jsonl``).  DumpLogSegments
``--deep-iteration`` over ``.log``, ``.index``, ``.timeindex`` and
``.checkpoint`` must report no error for kraft's files, and every line must
have the same shape (the same keys, in the same order) as for Kafka's; the
offset and time index entries must follow Kafka's own rule (an entry per batch
it indexes: the batch's last offset at its position; its largest timestamp).
"""
from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
from conftest import load_jsonl

from interop.kafka_tool_util import run_tool, start_kafka_test_raft_server, stop
from tools.quorum_util import NodeProcess, free_ports

pytestmark = pytest.mark.integration
PARTITION_DIR = "__raft_performance_test-0"
SEGMENT = "00000000000000000000"
#: enough for several index entries (one per 4096 bytes of batches, log.index.interval.bytes, but at
#: most one per batch: Kafka 3.9's TestRaftServer offers 20,000 x 256 B/s, so its batches reach ~128 KB
#: at a 25 ms linger, and more on a busy machine)
MIN_LOG_BYTES = 1_500_000
ERRORS = re.compile(r"Mismatches in|Non-consecutive offsets|timestamp mismatch|out of order timestamp|"
                    r"not found in the log|invalid bytes|isvalid: false|[Cc]orrupt|Exception|Error|ERROR")


def _dump_class(version: str) -> str:
    return "kafka.tools.DumpLogSegments" if version.startswith("3.") else "org.apache.kafka.tools.DumpLogSegments"


def _config(path: Path, port: int, log_dir: Path, extra: dict = ()) -> Path:
    lines = ["node.id=1", f"listeners=PLAINTEXT://127.0.0.1:{port}", "controller.listener.names=PLAINTEXT",
             f"controller.quorum.voters=1@127.0.0.1:{port}", f"log.dirs={log_dir}"]
    lines += [f"{k}={v}" for k, v in dict(extra).items()]
    path.write_text("\n".join(lines) + "\n")
    return path


def _wait(condition, timeout: float, what: str, alive) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert alive(), f"the server exited before {what}"
        assert time.monotonic() < deadline, f"no {what} within {timeout} s"
        time.sleep(0.2)


def _log_size(partition: Path) -> int:
    log = partition / f"{SEGMENT}.log"
    return log.stat().st_size if log.exists() else 0


@pytest.fixture(scope="module")
def kraft_files(tmp_path_factory):
    """A kraft test server's partition directory: data, control batches, snapshots; stopped cleanly."""
    tmp = tmp_path_factory.mktemp("kraft-dump")
    config = _config(tmp / "kraft.properties", free_ports(1)[0], tmp / "logs",
                     {"metadata.log.max.record.bytes.between.snapshots": 60_000})
    node = NodeProcess(1, config, ("--throughput", "3000")).start()
    partition = tmp / "logs" / PARTITION_DIR
    try:
        _wait(lambda: _log_size(partition) >= MIN_LOG_BYTES and list(partition.glob("*.checkpoint")),
              90, "log and snapshot written", lambda: node.running)
        assert node.stop(30) == 0, node.stderr_text()
    finally:
        node.kill()
    return partition


_kafka_dirs: dict[str, Path] = {}


@pytest.fixture
def kafka_files(kafka_version, tmp_path_factory):
    """A Kafka TestRaftServer's partition directory (one per Kafka version, made once)."""
    if kafka_version not in _kafka_dirs:
        tmp = tmp_path_factory.mktemp(f"kafka-dump-{kafka_version}")
        config = _config(tmp / "kafka.properties", free_ports(1)[0], tmp / "logs")
        partition = tmp / "logs" / PARTITION_DIR
        server = start_kafka_test_raft_server(kafka_version, config, "b8tRS7h4TJ2Vt43Dp85v2A",
                                              "--throughput", "3000")
        try:
            _wait(lambda: _log_size(partition) >= MIN_LOG_BYTES, 120, "Kafka's log written",
                  lambda: server.poll() is None)
        finally:
            stop(server)
        # Kafka 3.9.0's own snapshots, as written for the golden vectors
        # Kafka 3.9.0's own snapshot of a static quorum (kraft.version 0, as the test servers run)
        for entry in load_jsonl("kafka-3.9/files.jsonl"):
            if entry["file_name"].endswith(".checkpoint") and entry["params"]["kraft_version"] == 0:
                (partition / entry["file_name"]).write_bytes(bytes.fromhex(entry["hex"]))
        _kafka_dirs[kafka_version] = partition
    return _kafka_dirs[kafka_version]


def _files(partition: Path) -> list[Path]:
    checkpoints = sorted(partition.glob("*.checkpoint"))
    return [partition / f"{SEGMENT}.log", partition / f"{SEGMENT}.index", partition / f"{SEGMENT}.timeindex",
            checkpoints[-1]]


def _dump(version: str, files: list[Path], *flags: str) -> str:
    result = run_tool(version, _dump_class(version), "--files", ",".join(map(str, files)), *flags)
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout + "\n" + result.stderr


def _sections(text: str, by_file: bool = False) -> dict[str, list[str]]:
    """Lines per dumped file kind (log, index, timeindex, checkpoint), or per file name."""
    sections: dict[str, list[str]] = {}
    current = None
    for line in text.splitlines():
        match = re.match(r"^Dumping (.*)$", line)
        if match:
            current = Path(match.group(1)).name if by_file else Path(match.group(1)).suffix.lstrip(".")
            sections[current] = []
        elif line.strip():
            sections.setdefault(current or "other", []).append(line)
    return sections


def _shape(line: str) -> str:
    """The keys of a line in order, values replaced (JSON payloads keep their key names)."""
    shape = re.sub(r"(\w+): (?:\{.*\}|\[[^\]]*\]|\S+)", r"\1:", line)
    shape = re.sub(r"\d+", "N", shape)   # numbers inside free text ("Error at 12, skipping. ...")
    return re.sub(r"(SnapshotHeader|SnapshotFooter|KRaftVersion|KRaftVoters) (\{.*\})",
                  lambda m: m.group(1) + " " + ",".join(re.findall(r'"(\w+)":', m.group(2))), shape)


def _kinds(lines: list[str], cut_data_payload: bool = False) -> dict[str, set[str]]:
    """Shapes of lines by kind: data/control batches, data/control records, index entries, headers."""
    kinds: dict[str, set[str]] = {}
    control = False
    for line in lines:
        if line.startswith("baseOffset:"):
            control = "isControl: true" in line
            kind = "control batch" if control else "data batch"
        elif line.startswith("| offset:"):
            kind = "control record" if control else "data record"
            if cut_data_payload and not control:
                line = line.split(" payload: ")[0] + " payload:" if " payload: " in line else line
        else:
            kind = line.split(":")[0]
        kinds.setdefault(kind, set()).add(_shape(line))
    return kinds


def _short(kinds: dict[str, set[str]]) -> str:
    return "\n".join(f"  {kind}: {sorted(shapes)[:5]}" for kind, shapes in sorted(kinds.items()))[:4000]


def _batches(lines: list[str]) -> dict[int, dict[str, str]]:
    """Batch lines by position: their fields."""
    out = {}
    for line in lines:
        if line.startswith("baseOffset:"):
            fields = dict(re.findall(r"(\w+): (\S+)", line))
            out[int(fields["position"])] = fields
    return out


def _check_indexes(sections: dict[str, list[str]], who: str) -> None:
    """Kafka's rule: an index entry names a batch's last offset at that batch's position, and a time
    index entry that batch's largest timestamp (CreateTime of the batch line), strictly increasing."""
    batches = _batches(sections["log"])
    by_last_offset = {int(b["lastOffset"]): b for b in batches.values()}
    index = [tuple(map(int, re.findall(r"\d+", line))) for line in sections.get("index", [])]
    assert len(index) >= 3, f"{who}: too few offset index entries: {sections.get('index')}"
    for offset, position in index:
        assert position in batches and int(batches[position]["lastOffset"]) == offset, (who, offset, position)
    times = [tuple(map(int, re.findall(r"\d+", line))) for line in sections.get("timeindex", [])]
    assert len(times) >= 3, f"{who}: too few time index entries"
    for timestamp, offset in times:
        assert int(by_last_offset[offset]["CreateTime"]) == timestamp, (who, timestamp, offset)
    assert [t for t, _ in times] == sorted({t for t, _ in times}), who


def test_dump_log_segments_reads_kraft_files_as_kafka_files(kafka_version, kraft_files, kafka_files):
    kraft_text = _dump(kafka_version, _files(kraft_files), "--deep-iteration")
    kafka_text = _dump(kafka_version, _files(kafka_files), "--deep-iteration")
    bad = [line for line in kraft_text.splitlines() if ERRORS.search(line)]
    assert not bad, "DumpLogSegments complains about kraft's files:\n" + "\n".join(bad[:20])
    kraft, kafka = _sections(kraft_text), _sections(kafka_text)
    assert set(kraft) == set(kafka) == {"log", "index", "timeindex", "checkpoint"}, (set(kraft), set(kafka))
    for name in ("log", "index", "timeindex", "checkpoint"):
        mine, theirs = _kinds(kraft[name]), _kinds(kafka[name])
        assert mine == theirs, f"{name}: kraft's lines are shaped\n{_short(mine)}\nKafka's\n{_short(theirs)}"
    # the kinds that must be there at all (so that equal shapes mean something)
    assert {"data batch", "control batch", "data record", "control record", "Log starting offset"} <= set(
        _kinds(kraft["log"]))
    assert {"Snapshot end offset", "control batch", "control record", "data batch"} <= set(_kinds(kraft["checkpoint"]))
    _check_indexes(kraft, "kraft")
    _check_indexes(kafka, "Kafka")   # the rule holds for Kafka's own files, so it is Kafka's rule


def test_dump_log_segments_index_sanity_and_metadata_decoder(kafka_version, kraft_files, kafka_files):
    """``--index-sanity-check`` (what decides whether Kafka rebuilds indexes when it opens a log)
    passes on kraft's indexes; ``--cluster-metadata-decoder`` decodes kraft's control records as
    Kafka's (the data records of either test server are not metadata records: both get the same
    "could not deserialize" payload line)."""
    files = _files(kraft_files)
    sanity = _dump(kafka_version, files[1:3], "--index-sanity-check")
    assert sanity.count("passed sanity check") == 2, sanity
    kraft_text = _dump(kafka_version, [files[0], files[3]], "--deep-iteration", "--cluster-metadata-decoder")
    kafka_files_ = _files(kafka_files)
    kafka_text = _dump(kafka_version, [kafka_files_[0], kafka_files_[3]], "--deep-iteration",
                       "--cluster-metadata-decoder")
    kraft, kafka = _sections(kraft_text), _sections(kafka_text)
    for name in ("log", "checkpoint"):
        # what the decoder says about a data record depends on its bytes, which differ by design
        # (the snapshots hold different states): data records are compared up to "payload:"
        mine, theirs = _kinds(kraft[name], cut_data_payload=True), _kinds(kafka[name], cut_data_payload=True)
        assert mine == theirs, f"{name}: kraft's lines are shaped\n{_short(mine)}\nKafka's\n{_short(theirs)}"
    # 3.9.2 names the LeaderChange control type, 4.4.0 decodes it as JSON: either way, as for Kafka's
    assert "control record" in _kinds(kraft["log"]) and "control record" in _kinds(kraft["checkpoint"])


def test_dump_log_segments_would_report_a_bad_kraft_index(kafka_version, kraft_files, tmp_path):
    """The check above can fail: one offset index entry moved to another batch is reported."""
    import shutil

    copy = tmp_path / PARTITION_DIR
    copy.mkdir()
    for name in (f"{SEGMENT}.log", f"{SEGMENT}.index", f"{SEGMENT}.timeindex"):
        shutil.copy(kraft_files / name, copy / name)
    index = bytearray((copy / f"{SEGMENT}.index").read_bytes())
    # entries are (int32 relative offset, int32 position): bump the second entry's offset by one
    relative = int.from_bytes(index[8:12], "big") + 1
    index[8:12] = relative.to_bytes(4, "big")
    (copy / f"{SEGMENT}.index").write_bytes(bytes(index))
    text = _dump(kafka_version, [copy / f"{SEGMENT}.index"], "--deep-iteration")
    assert "Mismatches in" in text and ERRORS.search(text), text[-2000:]


def _kafka_index_rule(batches: list[dict], interval: int = 4096):
    """The offset and time index entries Kafka writes for these batches, appended one per append and
    the segment then closed (LogSegment.append, storage 3.9.2 LogSegment.java:258-273: before a batch,
    if more than ``interval`` bytes went by since the last entry, index that batch's last offset at
    its position and the largest timestamp so far; TimeIndex.maybeAppend only adds a larger timestamp;
    close() adds the largest timestamp once more if it is new)."""
    since, max_ts, max_offset, offsets, times = 0, -1, -1, [], []
    for b in batches:
        if int(b["CreateTime"]) > max_ts:
            max_ts, max_offset = int(b["CreateTime"]), int(b["lastOffset"])
        if since > interval:
            offsets.append((int(b["lastOffset"]), int(b["position"])))
            if not times or max_ts > times[-1][0]:
                times.append((max_ts, max_offset))
            since = 0
        since += int(b["size"])
    if max_ts >= 0 and (not times or max_ts > times[-1][0]):
        times.append((max_ts, max_offset))
    return offsets, times


def _without_44_first_offset_report(text: str, base_offset: int) -> str:
    """Kafka 4.4.0's DumpLogSegments (rewritten in Java) starts its consecutive-offset check at -1 and,
    unlike 3.9.2's (DumpLogSegments.scala:288, the first record only sets lastOffset), reports
    "-1 is followed by <first offset>" for every segment that does not start at offset 0, Kafka's own
    rolled segments included (dumpBatchRecords compares every record with the AtomicLong set to -1 in
    dumpLog; seen in the 4.4.0 bytecode, there is no 4.4.0 sources jar). That one report is dropped."""
    report = re.compile(r"Non-consecutive offsets in \S+\n  -1 is followed by %d\n" % base_offset)
    return report.sub("", text) if base_offset else text


def test_small_batches_are_indexed_by_kafkas_rule(kafka_version, kraft_files, tmp_path):
    """A log written by kraft's storage layer with small batches of varied sizes, a control batch and
    timestamps that go back now and then, over two segments: DumpLogSegments finds no error and kraft's
    .index/.timeindex hold exactly the entries Kafka's LogSegment would have written."""
    import random

    from kraft.protocol.messages import LeaderChangeMessage
    from kraft.records import encode_batch
    from kraft.records.control import encode_control_batch
    from kraft.storage import FileReplicatedLog, LogConfig

    partition = tmp_path / PARTITION_DIR
    log = FileReplicatedLog.open(partition, LogConfig(segment_bytes=60_000))
    rng = random.Random(11)
    try:
        leader_change = LeaderChangeMessage(version=0, leader_id=1, voters=[LeaderChangeMessage.Voter(voter_id=1)],
                                            granting_voters=[LeaderChangeMessage.Voter(voter_id=1)])
        log.append_as_leader(encode_control_batch(leader_change, partition_leader_epoch=1, timestamp=1_000), epoch=1)
        timestamp = 1_000
        for _ in range(400):
            timestamp += rng.choice((5, 7, 11, -3))   # now and then a batch with an older timestamp
            values = [bytes(rng.getrandbits(8) for _ in range(rng.randint(1, 120)))
                      for _ in range(rng.randint(1, 12))]
            log.append_as_leader(encode_batch(values, timestamp=timestamp), epoch=1)
    finally:
        log.close()
    segments = sorted(p.stem for p in partition.glob("*.log"))
    assert len(segments) >= 2
    files = [partition / f"{segment}.{suffix}" for segment in segments for suffix in ("log", "index", "timeindex")]
    text = _dump(kafka_version, files, "--deep-iteration")
    for segment in segments:
        text = _without_44_first_offset_report(text, int(segment))
    bad = [line for line in text.splitlines() if ERRORS.search(line)]
    assert not bad, "\n".join(bad[:20])
    by_file = _sections(text, by_file=True)
    for segment in segments:
        sections = {suffix: by_file.get(f"{segment}.{suffix}", []) for suffix in ("log", "index", "timeindex")}
        offsets, times = _kafka_index_rule([fields for _, fields in sorted(_batches(sections["log"]).items())])
        assert len(offsets) >= 3
        assert [tuple(map(int, re.findall(r"\d+", line))) for line in sections.get("index", [])] == offsets, segment
        assert [tuple(map(int, re.findall(r"\d+", line))) for line in sections.get("timeindex", [])] == times, segment


@pytest.fixture(scope="module")
def kraft_follower_files(tmp_path_factory):
    """The partition directory of a follower of a two-voter kraft quorum (its log written from Fetch
    responses, several batches per append), the follower stopped cleanly."""
    from tools.quorum_util import LEADER, Quorum

    tmp = tmp_path_factory.mktemp("kraft-follower-dump")
    # small records: batches of about 1 KB, so that the 4096-byte index interval spans several
    quorum = Quorum(tmp, 2, args=("--throughput", "3000", "--record-size", "16"))
    quorum.start()
    try:
        # "Leader is now N in epoch E" (the summary line of quorum.leader() comes only after 5 s)
        match = quorum.nodes[1].stderr.wait_for(LEADER, 90)
        assert match is not None, quorum.diagnostics()
        leader = int(match.group(1))
        follower = 2 if leader == 1 else 1
        partition = quorum.log_dirs[follower] / PARTITION_DIR
        _wait(lambda: _log_size(partition) >= MIN_LOG_BYTES // 2, 90, "the follower's log written",
              lambda: quorum.nodes[follower].running)
        # the follower stops cleanly (its files closed as Kafka closes a segment); the leader's files
        # are not used, so it is simply killed (a lone leader's graceful stop takes seconds)
        assert quorum.nodes[follower].stop(30) == 0, quorum.diagnostics()
    finally:
        quorum.kill_all()
    return partition


def test_a_follower_written_log_is_indexed_by_kafkas_rule(kafka_version, kraft_follower_files):
    files = [kraft_follower_files / f"{SEGMENT}.{suffix}" for suffix in ("log", "index", "timeindex")]
    text = _dump(kafka_version, files, "--deep-iteration")
    bad = [line for line in text.splitlines() if ERRORS.search(line)]
    assert not bad, "\n".join(bad[:20])
    sections = _sections(text)
    batches = [fields for _, fields in sorted(_batches(sections["log"]).items())]
    offsets, times = _kafka_index_rule(batches)
    assert len(offsets) >= 3 and len(offsets) < len(batches) // 2   # the interval skipped batches
    assert [tuple(map(int, re.findall(r"\d+", line))) for line in sections.get("index", [])] == offsets
    assert [tuple(map(int, re.findall(r"\d+", line))) for line in sections.get("timeindex", [])] == times
