"""The log directory: ``meta.properties``, the ``.lock`` file and the partition directory.

Kafka's layout for the raft partition::

    <metadata.log.dir>/meta.properties
    <metadata.log.dir>/.lock
    <metadata.log.dir>/<topic>-<partition>/      (segments, snapshots, quorum-state ...)

``meta.properties`` is a Java properties file (version 1)::

    #
    #<date>
    node.id=1
    directory.id=<22-char Kafka UUID>
    version=1
    cluster.id=<22-char Kafka UUID>
"""
from __future__ import annotations

import fcntl
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Optional

from kraft.storage.errors import MetaPropertiesError, StorageError
from kraft.storage.fileutil import atomic_write
from kraft.errors import KraftError
from kraft.protocol.uuid import Uuid

META_PROPERTIES = "meta.properties"
LOCK_FILE = ".lock"
DEFAULT_TOPIC = "__raft_performance_test"


def choose_log_dir(metadata_log_dir: Optional[str], log_dirs: Optional[str]) -> Path:
    """``metadata.log.dir`` if set, else the first entry of ``log.dirs``."""
    if metadata_log_dir:
        return Path(metadata_log_dir)
    if log_dirs:
        first = log_dirs.split(",")[0].strip()
        if first:
            return Path(first)
    raise StorageError("neither metadata.log.dir nor log.dirs is set")


def partition_dir_name(topic: str, partition: int) -> str:
    """``<topic>-<partition>``, Kafka's partition directory name."""
    if not topic or "/" in topic or topic in (".", ".."):
        raise ValueError(f"invalid topic name {topic!r}")
    if partition < 0:
        raise ValueError(f"invalid partition {partition}")
    return f"{topic}-{partition}"


@dataclass(frozen=True)
class MetaProperties:
    """The content of a version 1 ``meta.properties``."""

    node_id: int
    directory_id: Uuid
    cluster_id: Optional[str] = None
    version: int = 1

    def to_properties(self) -> Dict[str, str]:
        props = {"version": str(self.version), "node.id": str(self.node_id),
                 "directory.id": str(self.directory_id)}
        if self.cluster_id is not None:
            props["cluster.id"] = self.cluster_id
        return props


def parse_properties(text: str) -> Dict[str, str]:
    """A Java properties file's ``key=value`` lines (comments and blanks skipped)."""
    props: Dict[str, str] = {}
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped or stripped[0] in "#!":
            continue
        sep = min((i for i in (stripped.find("="), stripped.find(":")) if i >= 0), default=-1)
        if sep < 0:
            # Java reads a line without a separator as a key with an empty value (a truncated file ends so).
            props[stripped] = ""
            continue
        props[stripped[:sep].strip()] = stripped[sep + 1:].strip()
    return props


def read_meta_properties(path: os.PathLike | str) -> Optional[MetaProperties]:
    """Read ``meta.properties``; ``None`` if absent, :class:`MetaPropertiesError` if bad."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as e:
        raise MetaPropertiesError(f"cannot read: {e}", path) from e
    try:
        props = parse_properties(text)
    except ValueError as e:
        raise MetaPropertiesError(str(e), path) from None
    version = props.get("version")
    if version and version != "1":
        raise MetaPropertiesError(f"unsupported version {version!r} (KRaft needs version=1)", path)
    missing = [key for key in ("version", "node.id", "directory.id") if not props.get(key)]
    if missing:
        raise MetaPropertiesError(f"missing {', '.join(missing)} (the file is incomplete: truncated?)", path)
    for key, parse in (("node.id", int), ("directory.id", Uuid.from_string)):
        try:
            parse(props[key])
        except (ValueError, KraftError) as e:
            raise MetaPropertiesError(f"invalid {key} {props[key]!r}: {e}", path) from None
    return MetaProperties(int(props["node.id"]), Uuid.from_string(props["directory.id"]), props.get("cluster.id"))


def write_meta_properties(path: os.PathLike | str, meta: MetaProperties) -> None:
    """Write ``meta.properties`` as Java's ``Properties.store`` does, atomically."""
    stamp = time.strftime("%a %b %d %H:%M:%S UTC %Y", time.gmtime())
    lines = ["#", "#" + stamp] + [f"{k}={v}" for k, v in meta.to_properties().items()]
    atomic_write(path, ("\n".join(lines) + "\n").encode("utf-8"))


class LogDirectory:
    """One log directory holding the raft partition.

    >>> d = LogDirectory("/tmp/kraft-logs")            # doctest: +SKIP
    >>> meta = d.ensure_meta_properties(node_id=1)     # doctest: +SKIP
    >>> d.partition_dir                                 # doctest: +SKIP
    PosixPath('/tmp/kraft-logs/__raft_performance_test-0')
    """

    def __init__(self, path: os.PathLike | str, topic: str = DEFAULT_TOPIC, partition: int = 0):
        self.path = Path(path)
        self.partition_dir = self.path / partition_dir_name(topic, partition)
        self._lock_fd: Optional[int] = None

    @property
    def meta_properties_path(self) -> Path:
        return self.path / META_PROPERTIES

    def ensure_meta_properties(self, node_id: int, cluster_id: Optional[str] = None,
                               directory_id: Optional[Uuid] = None) -> MetaProperties:
        """Create the directories and ``meta.properties`` or check the existing one.

        A partition directory that holds a log but no ``meta.properties`` is
        refused unless ``directory_id`` names the log's identity (as Kafka's
        TestRaftServer is always given it, and leaves no ``meta.properties``).

        An existing file whose ``node.id`` (or ``directory.id``/``cluster.id``,
        when given) disagrees raises :class:`MetaPropertiesError` naming it.
        """
        self.path.mkdir(parents=True, exist_ok=True)
        self.partition_dir.mkdir(exist_ok=True)
        existing = read_meta_properties(self.meta_properties_path)
        if existing is None:
            held = sorted(p.name for p in self.partition_dir.iterdir())
            if held and directory_id is None:
                # As Kafka refuses a log directory without meta.properties: never give a log a new
                # identity.  A directory id named by the operator (Kafka's TestRaftServer requires
                # --replica-directory-id and writes no meta.properties) is the log's identity: kept.
                raise MetaPropertiesError(
                    f"missing, but {self.partition_dir} holds a log ({', '.join(held[:3])}"
                    f"{', ...' if len(held) > 3 else ''}): restore meta.properties (node.id, directory.id, "
                    f"version=1), start with the log's --replica-directory-id, or delete "
                    f"{self.partition_dir} to start this node with an empty log", self.meta_properties_path)
            meta = MetaProperties(node_id, directory_id or Uuid.random(), cluster_id)
            write_meta_properties(self.meta_properties_path, meta)
            return meta
        path = self.meta_properties_path
        if existing.node_id != node_id:
            raise MetaPropertiesError(
                f"node.id {existing.node_id} does not match the configured node.id {node_id}", path)
        if directory_id is not None and existing.directory_id != directory_id:
            raise MetaPropertiesError(
                f"directory.id {existing.directory_id} does not match the "
                f"configured {directory_id}", path)
        if cluster_id is not None and existing.cluster_id not in (None, cluster_id):
            raise MetaPropertiesError(
                f"cluster.id {existing.cluster_id} does not match the configured {cluster_id}", path)
        return existing

    def lock(self) -> None:
        """Take the exclusive ``.lock`` file lock; :class:`StorageError` if held elsewhere."""
        self.path.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise StorageError("log directory is locked by another process", self.path / LOCK_FILE)
        self._lock_fd = fd

    def unlock(self) -> None:
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None
