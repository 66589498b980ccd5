"""kraft-storage against Kafka's own kafka.tools.StorageTool (3.9.2 and 4.4.0): format, info, random-uuid."""
from __future__ import annotations

import base64
import re
import subprocess
import sys
from pathlib import Path

import pytest

from kraft.storage.log_dir import parse_properties

SCRIPT = Path(sys.executable).parent / "kraft-storage"
TIMEOUT_S = 120
CLUSTER_ID = "MkU3OEVBNTcwNTJENDM2Qg"
UUID_RE = re.compile(r"^[A-Za-z0-9_-]{22}$")


def run_kraft(*args):
    return subprocess.run([str(SCRIPT), *map(str, args)], capture_output=True, text=True, timeout=TIMEOUT_S)


def run_kafka(version: str, *args):
    from interop.kafka_tool_util import run_tool

    return run_tool(version, "kafka.tools.StorageTool", *map(str, args), timeout=TIMEOUT_S)


def kafka_config(path: Path, data: Path, metadata: Path) -> Path:
    """A config both tools read: Kafka's needs the controller keys, kraft's reads node.id and the directories."""
    path.write_text("process.roles=controller\nnode.id=3\n"
                    "controller.quorum.voters=3@127.0.0.1:19093\ncontroller.listener.names=CONTROLLER\n"
                    "listeners=CONTROLLER://127.0.0.1:19093\n"
                    f"log.dirs={data},{metadata}\nmetadata.log.dir={metadata}\n")
    return path


def is_kafka_uuid(text: str) -> bool:
    return bool(UUID_RE.match(text)) and len(base64.urlsafe_b64decode(text + "==")) == 16


@pytest.mark.integration
def test_format_writes_the_meta_properties_kafka_writes(tmp_path, kafka_version):
    ours_dir, kafka_dir = tmp_path / "ours", tmp_path / "kafka"
    ours_cfg = kafka_config(tmp_path / "ours.properties", ours_dir / "data", ours_dir / "meta")
    kafka_cfg = kafka_config(tmp_path / "kafka.properties", kafka_dir / "data", kafka_dir / "meta")
    ours = run_kraft("format", "--cluster-id", CLUSTER_ID, "--config", ours_cfg)
    theirs = run_kafka(kafka_version, "format", "--cluster-id", CLUSTER_ID, "--config", kafka_cfg)
    assert ours.returncode == 0 == theirs.returncode, (ours.stderr, theirs.stderr[-2000:])
    for name in ("data", "meta"):
        mine = parse_properties((ours_dir / name / "meta.properties").read_text())
        kafkas = parse_properties((kafka_dir / name / "meta.properties").read_text())
        assert sorted(mine) == sorted(kafkas) == ["cluster.id", "directory.id", "node.id", "version"]
        for key in ("cluster.id", "node.id", "version"):
            assert mine[key] == kafkas[key]
        assert is_kafka_uuid(mine["directory.id"]) and is_kafka_uuid(kafkas["directory.id"])
    # Kafka's lines name the same directories (ours have no metadata.version to add)
    kafka_lines = [l.split(" with metadata.version")[0].replace(str(kafka_dir), "D")
                   for l in theirs.stdout.splitlines() if l.startswith("Formatting")]
    our_lines = [l.rstrip(".").replace(str(ours_dir), "D") for l in ours.stdout.splitlines()]
    # (Kafka writes in hash-map order, ours in sorted order)
    assert sorted(our_lines) == sorted(kafka_lines) == ["Formatting data directory D/data",
                                                        "Formatting metadata directory D/meta"]

    # formatting again fails on both, and --ignore-formatted succeeds on both
    again = run_kraft("format", "-t", CLUSTER_ID, "-c", ours_cfg)
    assert again.returncode == 1 and again.stderr.strip().endswith(
        "is already formatted. Use --ignore-formatted to ignore this directory and format the others.")
    assert len(again.stderr.strip().splitlines()) == 1
    ignored = run_kraft("format", "-t", CLUSTER_ID, "-c", ours_cfg, "--ignore-formatted")
    assert ignored.returncode == 0 and ignored.stdout.strip() == "All of the log directories are already formatted."

    # info on the directories Kafka formatted: Kafka's report is the head of ours
    kafka_info = run_kafka(kafka_version, "info", "-c", kafka_cfg)
    our_info = run_kraft("info", "-c", kafka_cfg)
    assert kafka_info.returncode == 0 == our_info.returncode
    assert our_info.stdout.startswith(kafka_info.stdout.rstrip("\n"))
    assert "Found metadata: {cluster.id=" + CLUSTER_ID in our_info.stdout

    # random-uuid: Kafka's Uuid.toString form (22 characters of unpadded URL-safe base64), fresh each time
    uuids = {run_kraft("random-uuid").stdout.strip() for _ in range(2)}
    assert len(uuids) == 2 and all(is_kafka_uuid(u) for u in uuids)


def test_info_shows_segments_snapshots_and_quorum_state(tmp_path):
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from dump_log_data import write_partition

    config = tmp_path / "node.properties"
    config.write_text(f"node.id=1\nlog.dirs={tmp_path / 'logs'}\n")
    assert run_kraft("format", "-t", CLUSTER_ID, "-c", config).returncode == 0
    partition = write_partition(tmp_path / "logs" / "__raft_performance_test-0")
    (partition / "quorum-state").write_text('{"leaderId":1,"leaderEpoch":2,"votedId":-1,"data_version":1}')
    info = run_kraft("info", "-c", config)
    assert info.returncode == 0, info.stderr
    lines = info.stdout.splitlines()
    assert lines[:3] == ["Found log directory:", f"  {tmp_path / 'logs'}", ""]
    assert "Found partition __raft_performance_test-0:" in lines
    assert "  segments: 4, offsets 0 to 135 (log end offset 136), 13086 bytes" in lines
    assert "    00000000000000000136-0000000002.checkpoint (end offset 136, epoch 2, 447 bytes)" in lines
    assert '  quorum-state: {"leaderId":1,"leaderEpoch":2,"votedId":-1,"data_version":1}' in lines


def test_bad_input_one_line_and_exit_codes(tmp_path):
    missing = run_kraft("format", "-t", CLUSTER_ID, "-c", tmp_path / "nope.properties")
    assert missing.returncode == 1 and missing.stderr.strip().count("\n") == 0
    assert "does not exist" in missing.stderr
    config = tmp_path / "n.properties"
    config.write_text(f"log.dirs={tmp_path / 'x'}\n")
    no_node = run_kraft("format", "-t", CLUSTER_ID, "-c", config)
    assert no_node.returncode == 1 and "node.id" in no_node.stderr and "Traceback" not in no_node.stderr
    config.write_text(f"node.id=1\nlog.dirs={tmp_path / 'x'}\n")
    assert run_kraft("format", "-c", config).returncode == 2              # --cluster-id is required
    assert run_kraft().returncode == 2
    unformatted = run_kraft("info", "-c", config)
    assert unformatted.returncode == 1 and f"{tmp_path / 'x'} does not exist" in unformatted.stdout
    assert run_kraft("format", "-t", CLUSTER_ID, "-c", config).returncode == 0
    other = run_kraft("format", "-t", "AnotherClusterIdXXXXXX", "-c", config, "-g")
    assert other.returncode == 1 and "Expected AnotherClusterIdXXXXXX" in other.stderr
    helped = run_kraft("format", "--help")
    assert helped.returncode == 0 and "--ignore-formatted" in helped.stdout and "--cluster-id" in helped.stdout
