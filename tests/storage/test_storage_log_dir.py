"""meta.properties, the lock file and the partition directory."""
import pytest

from kraft.protocol.uuid import Uuid
from kraft.storage import LogDirectory, MetaPropertiesError, StorageError, choose_log_dir
from kraft.storage.log_dir import parse_properties, read_meta_properties


def test_layout_and_meta_properties(tmp_path):
    d = LogDirectory(tmp_path / "logs")
    meta = d.ensure_meta_properties(node_id=3, cluster_id="MkU3OEVBNTcwNTJENDM2Qg")
    assert d.partition_dir == tmp_path / "logs" / "__raft_performance_test-0"
    assert d.partition_dir.is_dir()
    lines = (tmp_path / "logs" / "meta.properties").read_text().splitlines()
    assert lines[0] == "#" and lines[1].startswith("#")
    props = dict(line.split("=", 1) for line in lines[2:])
    assert props == {"version": "1", "node.id": "3", "directory.id": str(meta.directory_id),
                     "cluster.id": "MkU3OEVBNTcwNTJENDM2Qg"}
    assert len(props["directory.id"]) == 22
    # reopening with the same node id returns the same directory id
    again = LogDirectory(tmp_path / "logs").ensure_meta_properties(node_id=3)
    assert again == meta


def test_topic_name_is_a_parameter(tmp_path):
    d = LogDirectory(tmp_path, topic="__cluster_metadata")
    assert d.partition_dir.name == "__cluster_metadata-0"
    with pytest.raises(ValueError):
        LogDirectory(tmp_path, topic="a/b")


def test_node_id_mismatch_names_the_file(tmp_path):
    LogDirectory(tmp_path).ensure_meta_properties(node_id=1)
    with pytest.raises(MetaPropertiesError) as info:
        LogDirectory(tmp_path).ensure_meta_properties(node_id=2)
    assert str(tmp_path / "meta.properties") in str(info.value)
    assert "node.id 1" in str(info.value)


def test_directory_and_cluster_id_mismatch(tmp_path):
    meta = LogDirectory(tmp_path).ensure_meta_properties(node_id=1, cluster_id="c1")
    with pytest.raises(MetaPropertiesError):
        LogDirectory(tmp_path).ensure_meta_properties(node_id=1, directory_id=Uuid.random())
    with pytest.raises(MetaPropertiesError):
        LogDirectory(tmp_path).ensure_meta_properties(node_id=1, cluster_id="c2")
    assert LogDirectory(tmp_path).ensure_meta_properties(
        node_id=1, directory_id=meta.directory_id, cluster_id="c1") == meta


@pytest.mark.parametrize("content, message", [
    ("version=0\nbroker.id=1\n", "version"),
    ("version=1\ndirectory.id=AAAAAAAAAAAAAAAAAAAAAQ\n", "node.id"),
    ("version=1\nnode.id=x\ndirectory.id=AAAAAAAAAAAAAAAAAAAAAQ\n", "invalid"),
    ("version=1\nnode.id=1\ndirectory.id=short\n", "invalid"),
    ("version=1\nnode.id\n", "missing node.id, directory.id"),  # truncated: Java reads "node.id" as empty
])
def test_bad_meta_properties(tmp_path, content, message):
    (tmp_path / "meta.properties").write_text(content)
    with pytest.raises(MetaPropertiesError) as info:
        read_meta_properties(tmp_path / "meta.properties")
    assert message in str(info.value)
    assert "meta.properties" in str(info.value)


def test_reads_kafka_written_file(tmp_path):
    (tmp_path / "meta.properties").write_text(
        "#\n#Tue Nov 25 01:00:00 UTC 2026\nnode.id=7\ndirectory.id=b8tRS7h4TJ2Vt43Dp85v2A\n"
        "version=1\ncluster.id=MkU3OEVBNTcwNTJENDM2Qg\n")
    meta = read_meta_properties(tmp_path / "meta.properties")
    assert (meta.node_id, str(meta.directory_id), meta.cluster_id) == (
        7, "b8tRS7h4TJ2Vt43Dp85v2A", "MkU3OEVBNTcwNTJENDM2Qg")


def test_parse_properties_comments_and_separators():
    assert parse_properties("# c\n! c\n\na=1\nb: 2\n c = x=y \n") == {"a": "1", "b": "2", "c": "x=y"}


def test_choose_log_dir():
    assert str(choose_log_dir("/m", "/a,/b")) == "/m"
    assert str(choose_log_dir(None, "/a,/b")) == "/a"
    with pytest.raises(StorageError):
        choose_log_dir(None, None)


def test_lock_is_exclusive(tmp_path):
    a, b = LogDirectory(tmp_path), LogDirectory(tmp_path)
    a.lock()
    try:
        with pytest.raises(StorageError):
            b.lock()
    finally:
        a.unlock()
    b.lock()
    b.unlock()


def test_every_truncation_of_meta_properties_names_what_is_missing_or_invalid(tmp_path):
    LogDirectory(tmp_path).ensure_meta_properties(node_id=3, cluster_id="AAAAAAAAAAAAAAAAAAAAAA")
    whole = (tmp_path / "meta.properties").read_bytes()
    for size in range(len(whole)):
        (tmp_path / "meta.properties").write_bytes(whole[:size])
        try:
            meta = read_meta_properties(tmp_path / "meta.properties")
        except MetaPropertiesError as e:
            text = str(e)
            assert "\n" not in text
            assert ("missing " in text and any(k in text.split("missing ", 1)[1] for k in
                                               ("version", "node.id", "directory.id"))) or \
                any(f"invalid {k}" in text for k in ("node.id", "directory.id")), (size, text)
        else:  # only a cut inside the optional cluster.id line (or after it) still reads
            assert meta.node_id == 3 and size >= whole.index(b"\ncluster.id"), size


def test_a_deleted_meta_properties_beside_a_log_is_refused_not_recreated(tmp_path):
    first = LogDirectory(tmp_path).ensure_meta_properties(node_id=1)
    (LogDirectory(tmp_path).partition_dir / "00000000000000000000.log").write_bytes(b"")
    (tmp_path / "meta.properties").unlink()
    with pytest.raises(MetaPropertiesError, match="restore meta.properties") as info:
        LogDirectory(tmp_path).ensure_meta_properties(node_id=1)
    assert "00000000000000000000.log" in str(info.value)
    assert not (tmp_path / "meta.properties").exists()
    # An empty partition directory (nothing written yet) is still formatted afresh.
    (LogDirectory(tmp_path).partition_dir / "00000000000000000000.log").unlink()
    assert LogDirectory(tmp_path).ensure_meta_properties(node_id=1).directory_id != first.directory_id


def test_a_log_without_meta_properties_is_taken_with_a_named_directory_id(tmp_path):
    # Kafka's TestRaftServer leaves a log and no meta.properties; its --replica-directory-id names it
    (LogDirectory(tmp_path).partition_dir).mkdir(parents=True)
    (LogDirectory(tmp_path).partition_dir / "00000000000000000000.log").write_bytes(b"")
    named = Uuid.random()
    meta = LogDirectory(tmp_path).ensure_meta_properties(node_id=2, directory_id=named)
    assert meta.directory_id == named and meta.node_id == 2
    assert read_meta_properties(tmp_path / "meta.properties").directory_id == named
