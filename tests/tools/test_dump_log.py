"""kraft-dump-log against Kafka's own DumpLogSegments on the same files, line by line.

The files are written by kraft's storage layer (``dump_log_data``): segments
with data and control batches, their indexes, and a snapshot.  Kafka's tool
runs from the jars of tests/interop (both releases).
"""
from __future__ import annotations

import os
import shutil
import struct
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from dump_log_data import write_partition  # noqa: E402

SCRIPT = Path(sys.executable).parent / "kraft-dump-log"
TIMEOUT_S = 120
KAFKA_CLASS = {"3.9.2": "kafka.tools.DumpLogSegments", "4.4.0": "org.apache.kafka.tools.DumpLogSegments"}


def run_kraft(*args):
    return subprocess.run([str(SCRIPT), *map(str, args)], capture_output=True, text=True, timeout=TIMEOUT_S)


def run_kafka(version: str, *args):
    from interop.kafka_jars import classpath, java

    # 3.9.2 carries two SLF4J bindings; the tool logs nothing we need.
    jars = [p for p in classpath(version).split(os.pathsep) if version >= "4" or "slf4j-simple" not in p]
    return subprocess.run([java(), "-cp", os.pathsep.join(jars), KAFKA_CLASS[version], *map(str, args)],
                          capture_output=True, text=True, timeout=TIMEOUT_S)


def stderr_blocks(text: str) -> list[str]:
    """Kafka prints its per-file error blocks in hash-map order: compare them as a sorted list."""
    blocks, current = [], []
    for line in text.splitlines():
        if line.startswith(("log4j:", "SLF4J:")):
            continue
        if not line.startswith(" ") and not line.startswith("Indexed offset") and current:
            blocks.append("\n".join(current))
            current = []
        current.append(line)
    if current:
        blocks.append("\n".join(current))
    return sorted(blocks)


def kafka_39_form(line: str) -> str:
    """Kafka 3.9 does not decode LeaderChange records (DumpLogSegments.scala:329, its default case)."""
    marker = " LeaderChange: "
    if marker in line:
        return line[:line.index(marker)] + " controlType: LEADER_CHANGE(2)"
    return line


@pytest.fixture(scope="module")
def partition(tmp_path_factory) -> Path:
    return write_partition(tmp_path_factory.mktemp("dump") / "__raft_performance_test-0")


def all_files(directory: Path) -> str:
    names = sorted(p for p in directory.iterdir() if p.suffix in (".log", ".index", ".timeindex", ".checkpoint"))
    return ",".join(str(p) for p in names)


@pytest.fixture(scope="module")
def kafka_44() -> str:
    """Kafka 4.4.0 only, for the checks that need no second release (as the kafka_version fixture: skip, or fail in CI)."""
    from interop.kafka_jars import availability

    reason = availability("4.4.0")
    if reason is not None:
        if os.environ.get("CI"):
            raise RuntimeError(f"Kafka 4.4.0 is needed in CI: {reason}")
        pytest.skip(f"Kafka 4.4.0 unavailable: {reason}")
    return "4.4.0"


@pytest.fixture(scope="module", autouse=True)
def console_script_installed():
    if not SCRIPT.exists():
        pytest.fail(f"console script missing at {SCRIPT}: pip install -e . declares it")


def compare(version: str, args: list, expect_kafka_ok: bool = True):
    ours = run_kraft(*args)
    theirs = run_kafka(version, *args)
    if expect_kafka_ok:
        assert theirs.returncode == 0, theirs.stderr[-2000:]
    expected = theirs.stdout.splitlines()
    got = ours.stdout.splitlines()
    if version.startswith("3."):
        got = [kafka_39_form(line) for line in got]
    return ours, theirs, expected, got


def corrupt_copy(partition: Path, target: Path) -> Path:
    """The second segment with one payload byte flipped (its CRC fails) and 30 bytes of garbage appended."""
    target.mkdir()
    segment = sorted(partition.glob("*.log"))[1]
    data = bytearray(segment.read_bytes())
    data[200] ^= 0x01
    data += bytes(range(30))
    path = target / segment.name
    path.write_bytes(bytes(data))
    return path


@pytest.mark.integration
def test_same_lines_as_kafka_for_logs_indexes_snapshot_and_corruption(partition, kafka_version, tmp_path):
    """One run of each tool over every file, then a segment with a bad CRC and a torn tail."""
    corrupt = corrupt_copy(partition, tmp_path / "c")
    args = ["--files", all_files(partition) + f",{corrupt}", "--print-data-log"]
    ours, theirs, expected, got = compare(kafka_version, args)
    assert len(got) == len(expected) > 100
    for mine, kafkas in zip(got, expected):
        assert mine == kafkas
    text = "\n".join(got)
    # every kind of line is there: batches, records with payloads, control records, index entries, snapshot
    for needle in ("compresscodec: lz4", "LogAppendTime:", "payload: value-", "KRaftVoters {", "KRaftVersion {",
                   "SnapshotHeader {", "SnapshotFooter {", "offset: 16 position: 891", "timestamp: ",
                   "Snapshot end offset: 136, epoch: 2", "isvalid: false"):
        assert needle in text
    assert got[-1] == f"Found 30 invalid bytes at the end of {corrupt.name}"
    assert ours.returncode == 1
    if kafka_version.startswith("4."):
        # 4.x reports the first offset of every segment after the first as non-consecutive (from -1)
        assert stderr_blocks(ours.stderr) == stderr_blocks(theirs.stderr)
    else:
        assert "Non-consecutive" not in theirs.stderr


@pytest.mark.integration
def test_shallow_verify_only_and_sanity_check_match_kafka(partition, kafka_44):
    segment = sorted(partition.glob("*.log"))[1]
    index = segment.with_suffix(".index")
    timeindex = segment.with_suffix(".timeindex")
    for args in (["--files", f"{segment},{index},{timeindex}", "--verify-index-only"],
                 ["--files", f"{index},{timeindex}", "--index-sanity-check"]):
        ours, theirs, expected, got = compare("4.4.0", args)
        assert got == expected
        assert ours.returncode == 0, ours.stderr
        assert any(line.startswith(("baseOffset: 39 ", f"{index} passed")) for line in got)


@pytest.mark.integration
def test_where_kafka_stops_we_report_the_position_and_go_on(partition, tmp_path, kafka_44):
    """A record that does not parse: Kafka's tool dies with a stack trace; ours names the batch and goes on."""
    target = tmp_path / "bad"
    target.mkdir()
    segment = sorted(partition.glob("*.log"))[0]
    data = bytearray(segment.read_bytes())
    # the third batch (lz4, at position 353) loses its compressed records: they no longer decode
    first_data_batch = 353
    data[first_data_batch + 61: first_data_batch + 80] = b"\xff" * 19
    path = target / segment.name
    path.write_bytes(bytes(data))
    args = ["--files", path, "--deep-iteration"]
    ours, theirs, expected, got = compare("4.4.0", args, expect_kafka_ok=False)
    assert theirs.returncode != 0 or "Exception" in theirs.stderr
    assert got[:len(expected)] == expected           # Kafka's lines up to where it stopped
    assert len(got) > len(expected)                  # ours goes on with the next batches
    errors = ours.stderr.splitlines()
    assert ours.returncode == 1
    assert any("position 353" in e and "base offset 3" in e for e in errors), errors
    assert "Traceback" not in ours.stderr
    assert any(line.startswith("baseOffset: 8 ") for line in got)


def test_bad_input_one_line_and_exit_codes(tmp_path):
    missing = run_kraft("--files", tmp_path / "00000000000000000000.log")
    assert missing.returncode == 1
    assert missing.stderr.strip().count("\n") == 0 and "No such file" in missing.stderr
    other = tmp_path / "quorum-state"
    other.write_text("{}")
    unknown = run_kraft("--files", other)
    assert unknown.returncode == 1 and unknown.stderr.strip() == f"Ignoring unknown file {other}"
    badname = tmp_path / "notanoffset.log"
    badname.write_bytes(b"")
    result = run_kraft("--files", badname)
    assert result.returncode == 1 and "base offset" in result.stderr and "Traceback" not in result.stderr
    usage = run_kraft()
    assert usage.returncode == 2 and "--files" in usage.stderr
    helped = run_kraft("--help")
    assert helped.returncode == 0
    for option in ("--files", "--deep-iteration", "--print-data-log", "--verify-index-only",
                   "--cluster-metadata-decoder"):
        assert option in helped.stdout
    tiny = tmp_path / "00000000000000000000.index"
    tiny.write_bytes(b"")
    (tmp_path / "00000000000000000000.log").write_bytes(b"")
    empty = run_kraft("--files", tiny)
    assert empty.returncode == 0 and empty.stdout.splitlines()[-1] == f"{tiny} is empty."


def test_missing_and_odd_files_one_line_each(tmp_path):
    """A missing segment, a directory named like one, an index whose segment is gone, and an index
    entry pointing before the segment's start: each one line naming the file, status 1, no traceback."""
    missing = tmp_path / "00000000000000000042.log"
    folder = tmp_path / "00000000000000000007.log"
    folder.mkdir()
    orphan = tmp_path / "00000000000000000099.index"
    orphan.write_bytes(struct.pack(">ii", 1, 0))
    bad = tmp_path / "00000000000000000000.index"
    bad.write_bytes(struct.pack(">ii", 1, -5))           # relative offset 1 at position -5
    (tmp_path / "00000000000000000000.log").write_bytes(b"")
    for path, message in ((missing, "No such file or directory"), (folder, "Not a regular file"),
                          (orphan, "cannot read its segment 00000000000000000099.log: No such file or directory"),
                          (bad, "index entry 0 (offset 1): position -5 is negative")):
        result = run_kraft("--files", path)
        assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr
        assert result.stderr == f"{path}: {message}\n"
