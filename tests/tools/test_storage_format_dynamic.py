"""``kraft-storage format --standalone / --initial-controllers / --no-initial-controllers`` (issue 14).

The bootstrap checkpoint is compared byte for byte with the one Kafka's own
``kafka.tools.StorageTool format`` writes (3.9.2 and 4.4.0, from the Maven jars):
kraft's writer is run with the timestamps read back from Kafka's file, so every
byte (CRCs included) must agree.  Kafka 4.4 also puts its feature-level metadata
records in that checkpoint (KAFKA-19648); a kraft node has none, so for 4.4 the
control batch (header, KRaftVersion, Voters) is compared and the rest is checked
to be Kafka's one batch of metadata records before the footer.
"""
from __future__ import annotations

import struct
import subprocess
import sys
from pathlib import Path

import pytest

from kraft.storage.log_dir import read_meta_properties
from kraft.tools import storage

CHECKPOINT = "00000000000000000000-0000000000.checkpoint"
CLUSTER = "MkU3OEVBNTcwNTJENDM2Qg"
DIR_IDS = ["JEXY6aqzQY-32P5TStzaFg", "MvDxzVmcRsaTz33bUuRU6A", "07R5amHmR32VDA6jHkGbTA"]


def config(tmp_path: Path, node_id: int = 1, port: int = 19093, voters: str = "", roles: str = "controller") -> Path:
    path = tmp_path / f"node{node_id}.properties"
    lines = [f"process.roles={roles}", f"node.id={node_id}", f"listeners=CONTROLLER://127.0.0.1:{port}",
             "controller.listener.names=CONTROLLER", f"log.dirs={tmp_path / f'logs{node_id}'}"]
    lines.append(f"controller.quorum.voters={voters}" if voters
                 else f"controller.quorum.bootstrap.servers=127.0.0.1:{port}")
    path.write_text("\n".join(lines) + "\n")
    return path


def run(*args: str):
    return subprocess.run([sys.executable, "-m", "kraft.tools.storage", *args], capture_output=True, text=True,
                          timeout=60)


def batches(data: bytes):
    """(start, end) of each batch of a checkpoint."""
    out, pos = [], 0
    while pos < len(data):
        length = struct.unpack_from(">i", data, pos + 8)[0]
        out.append((pos, pos + 12 + length))
        pos += 12 + length
    return out


def first_timestamp(data: bytes, start: int) -> int:
    return struct.unpack_from(">q", data, start + 27)[0]


def kraft_copy(kafka_data: bytes, partition_dir: Path, voters: dict) -> bytes:
    """kraft's checkpoint for ``voters``, written at the times Kafka's file records."""
    from kraft.core.log import OffsetAndEpoch
    from kraft.storage.snapshots import FileRawSnapshotReader

    spans = batches(kafka_data)
    header_start, _ = spans[0]

    kafka_dir = partition_dir.parent / "kafka-copy"
    kafka_dir.mkdir(parents=True)
    (kafka_dir / CHECKPOINT).write_bytes(kafka_data)
    reader = FileRawSnapshotReader.open(kafka_dir, OffsetAndEpoch(0, 0))
    last_contained = reader.last_contained_log_timestamp()
    reader.close()
    times = iter([first_timestamp(kafka_data, header_start), first_timestamp(kafka_data, spans[-1][0])])
    path = storage.write_bootstrap_checkpoint(partition_dir, voters, "CONTROLLER", time_ms=lambda: next(times),
                                              last_contained_log_timestamp=last_contained)
    return path.read_bytes()


@pytest.fixture
def kafka_format(kafka_version, tmp_path):
    from interop.kafka_tool_util import run_tool

    def fmt(*args: str, node_id: int = 1) -> Path:
        base = tmp_path / f"kafka-{kafka_version}"
        base.mkdir(exist_ok=True)
        cfg = config(base, node_id)
        result = run_tool(kafka_version, "kafka.tools.StorageTool", "format", "--cluster-id", CLUSTER,
                          "--config", str(cfg), *args)
        assert result.returncode == 0, result.stdout + result.stderr
        return base / f"logs{node_id}"
    return fmt


def test_initial_controllers_checkpoint_matches_kafka(kafka_version, kafka_format, tmp_path):
    voters_arg = ",".join(f"{i}@127.0.0.1:{19093 + i}:{d}" for i, d in enumerate(DIR_IDS))
    logs = kafka_format("--initial-controllers", voters_arg, node_id=1)
    kafka_data = (logs / "__cluster_metadata-0" / CHECKPOINT).read_bytes()
    voters = storage.parse_dynamic_voters(voters_arg)
    ours = kraft_copy(kafka_data, tmp_path / "ours" / "__cluster_metadata-0", voters)
    kafka_spans, our_spans = batches(kafka_data), batches(ours)
    assert len(our_spans) == 2
    if kafka_version.startswith("3."):
        assert ours == kafka_data
    else:
        # 4.4: the same control batch, then Kafka's feature-level records (a data batch), then the footer
        assert ours[slice(*our_spans[0])] == kafka_data[slice(*kafka_spans[0])]
        assert len(kafka_spans) == 3
        attributes = struct.unpack_from(">h", kafka_data, kafka_spans[1][0] + 21)[0]
        assert not attributes & 0x20, "Kafka 4.4's second batch is metadata records, not control records"
    # the node's metadata directory takes the directory id --initial-controllers gives it
    assert str(read_meta_properties(logs / "meta.properties").directory_id) == DIR_IDS[1]


def test_standalone_cli_matches_kafka(kafka_version, kafka_format, tmp_path):
    kafka_logs = kafka_format("--standalone")
    cfg = config(tmp_path, 1)
    result = run("format", "--config", str(cfg), "--cluster-id", CLUSTER, "--standalone",
                 "--metadata-topic", "__cluster_metadata")
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"Formatting dynamic metadata voter directory {tmp_path / 'logs1'}.\n"
    ours = (tmp_path / "logs1" / "__cluster_metadata-0" / CHECKPOINT).read_bytes()
    our_dir = read_meta_properties(tmp_path / "logs1" / "meta.properties").directory_id
    kafka_dir = read_meta_properties(kafka_logs / "meta.properties").directory_id
    kafka_data = (kafka_logs / "__cluster_metadata-0" / CHECKPOINT).read_bytes()
    # the same bytes once Kafka's random directory id is replaced by ours and its times are used
    rebuilt = kraft_copy(kafka_data, tmp_path / "rebuilt" / "p-0", {1: ("127.0.0.1", 19093, kafka_dir)})
    assert rebuilt[slice(*batches(rebuilt)[0])] == kafka_data[slice(*batches(kafka_data)[0])]
    # kraft's own file: same layout and records, with its own directory id and times
    assert len(ours) == len(rebuilt)
    assert bytes(our_dir) in ours and bytes(kafka_dir) not in ours


def test_default_topic_and_options(tmp_path):
    cfg = config(tmp_path, 2, port=19100)
    result = run("format", "--config", str(cfg), "--cluster-id", CLUSTER,
                 "--initial-controllers", f"1@127.0.0.1:19099:{DIR_IDS[0]},2@127.0.0.1:19100:{DIR_IDS[1]}")
    assert result.returncode == 0, result.stderr
    checkpoint = tmp_path / "logs2" / "__raft_performance_test-0" / CHECKPOINT
    assert checkpoint.exists()
    assert str(read_meta_properties(tmp_path / "logs2" / "meta.properties").directory_id) == DIR_IDS[1]
    from kraft.core.log import OffsetAndEpoch
    from kraft.storage.snapshots import FileRawSnapshotReader

    reader = FileRawSnapshotReader.open(checkpoint.parent, OffsetAndEpoch(0, 0))
    header = reader.header()
    reader.close()
    assert header.kraft_version == 1
    assert sorted(v.voter_id for v in header.voters.voters) == [1, 2]


def test_no_initial_controllers_writes_no_checkpoint(tmp_path):
    cfg = config(tmp_path, 3)
    result = run("format", "--config", str(cfg), "--cluster-id", CLUSTER, "--no-initial-controllers")
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"Formatting metadata directory {tmp_path / 'logs3'}.\n"
    assert not (tmp_path / "logs3" / "__raft_performance_test-0").exists()


@pytest.mark.parametrize("args, message", [
    ([], "Because controller.quorum.voters is not set on this controller, you must specify one of the "
         "following: --standalone, --initial-controllers, or --no-initial-controllers."),
    (["--initial-controllers", "1@h:1"], "No colon following port could be found."),
    (["--initial-controllers", "x@h:1:AAAAAAAAAAAAAAAAAAAAAA"], "Failed to parse node id in dynamic voter string."),
    (["--initial-controllers", "1@h:1:zz"], "Failed to parse directory ID in dynamic voter string."),
    (["--initial-controllers", f"1@h:1:{DIR_IDS[0]},1@h:2:{DIR_IDS[1]}"],
     "Node id 1 was specified more than once."),
    (["--initial-controllers", ","], "No voters given."),
])
def test_bad_dynamic_options(tmp_path, args, message):
    cfg = config(tmp_path, 1)
    result = run("format", "--config", str(cfg), "--cluster-id", CLUSTER, *args)
    assert result.returncode == 1
    assert result.stderr == message + "\n"
    assert not (tmp_path / "logs1").exists()


def test_static_voters_refuse_standalone(tmp_path):
    cfg = config(tmp_path, 1, voters="1@127.0.0.1:19093")
    result = run("format", "--config", str(cfg), "--cluster-id", CLUSTER, "--standalone")
    assert result.returncode == 1
    assert result.stderr.startswith("You cannot specify controller.quorum.voters and format the node with")
    both = run("format", "--config", str(cfg), "--cluster-id", CLUSTER, "--standalone", "--no-initial-controllers")
    assert both.returncode == 2
