"""``kraft-storage``: format log directories and show what they hold, as Kafka's storage tool does.

::

    kraft-storage format --config FILE --cluster-id ID [--ignore-formatted]
                         [--standalone | --initial-controllers ID@HOST:PORT:DIR,... | --no-initial-controllers]
                         [--metadata-topic TOPIC]
    kraft-storage info --config FILE
    kraft-storage random-uuid

``format`` writes ``meta.properties`` (version 1: ``cluster.id``,
``node.id``, a fresh ``directory.id``) into every directory of ``log.dirs``
and ``metadata.log.dir``, with Kafka's ``Formatting ...`` lines and its
refusal of an already formatted directory (unless ``--ignore-formatted``).
``info`` prints Kafka's summary (the directories, the ``meta.properties``
they agree on, the problems found) and then what kraft keeps in each
partition directory: segments and their offsets, snapshots, the
``quorum-state`` file.  ``random-uuid`` prints a Kafka UUID (22 characters
of URL-safe base64).

With ``--standalone`` (this node, at its first controller listener, is the
only initial voter) or ``--initial-controllers`` (the metadata directory
takes the directory id given for this node), ``format`` also writes the
bootstrap checkpoint ``00000000000000000000-0000000000.checkpoint`` into
``<metadata log dir>/<topic>-0``: a control batch with the SnapshotHeader,
KRaftVersion (1) and Voters records, then the SnapshotFooter, byte for byte
what Kafka 3.9's ``Formatter.writeDynamicQuorumSnapshot`` writes.  The topic
is kraft's own (``__raft_performance_test``) unless ``--metadata-topic`` names
another (``__cluster_metadata`` for a Kafka controller's directory).  Kafka
4.4 (KAFKA-19648) also puts its bootstrap metadata records (feature levels)
into that checkpoint, and 3.9 writes them to ``bootstrap.checkpoint``; a
kraft node has no metadata records, so kraft writes neither.
``--no-initial-controllers`` writes ``meta.properties`` only.  Without any of
the three, a node with ``process.roles`` holding ``controller`` and no
``controller.quorum.voters`` is refused, as Kafka refuses it.

Errors print one line on stderr and exit with status 1; unparseable options
exit with status 2.
"""
from __future__ import annotations

import argparse
import logging
import json
import os
import sys
from pathlib import Path
from typing import List, Optional, Sequence

from kraft.errors import KraftError
from kraft.protocol.uuid import Uuid
from kraft.server import properties
from kraft.storage.log_dir import (DEFAULT_TOPIC, META_PROPERTIES, MetaProperties, partition_dir_name,
                                   read_meta_properties, write_meta_properties)
from kraft.storage.snapshots import parse_snapshot_path

PROG = "kraft-storage"
DESCRIPTION = "The kraft storage tool: format log directories, show what they hold, make ids."


class ToolError(Exception):
    """One line for stderr, exit status 1."""


# -- configuration ---------------------------------------------------------------------------------


def load_config(path: str) -> dict:
    try:
        return properties.load(path)
    except FileNotFoundError:
        raise ToolError(f"configuration file {path} does not exist") from None
    except (OSError, KraftError, UnicodeDecodeError) as exc:
        raise ToolError(f"cannot read configuration file {path}: {exc}") from None


def node_id_of(config: dict) -> int:
    raw = config.get("node.id")
    if raw is None:
        raise ToolError("Invalid value for configuration node.id: missing (the node id to write into meta.properties)")
    try:
        value = int(raw)
    except ValueError:
        raise ToolError(f"Invalid value for configuration node.id: {raw!r} is not an integer") from None
    if value < 0:
        raise ToolError("You must specify a valid non-negative node ID.")
    return value


def metadata_log_dir(config: dict) -> Optional[str]:
    if config.get("metadata.log.dir", "").strip():
        return config["metadata.log.dir"].strip()
    dirs = log_dirs(config, with_metadata=False)
    return dirs[0] if dirs else None


def log_dirs(config: dict, with_metadata: bool = True) -> List[str]:
    """``log.dirs`` (else ``log.dir``) plus ``metadata.log.dir``, sorted and without duplicates, as Kafka lists them."""
    raw = config.get("log.dirs") or config.get("log.dir") or ""
    dirs = {d.strip() for d in raw.split(",") if d.strip()}
    if with_metadata and config.get("metadata.log.dir", "").strip():
        dirs.add(config["metadata.log.dir"].strip())
    return sorted(dirs)


# -- format ----------------------------------------------------------------------------------------


#: Kafka's metadata partition, where its format writes the bootstrap checkpoint.
KAFKA_METADATA_TOPIC = "__cluster_metadata"

#: The kraft.version range a kraft node supports, as its Voters record entry says (Kafka 3.9 - 4.4: 0..1).
KRAFT_VERSION_RANGE = (0, 1)


def add_dynamic_quorum_options(format_parser) -> None:
    """Kafka's ``--standalone`` / ``--no-initial-controllers`` / ``--initial-controllers`` (at most one)."""
    group = format_parser.add_mutually_exclusive_group()
    group.add_argument("--standalone", "-s", action="store_true",
                       help="Format this controller as the only voter of a new dynamic quorum "
                            "(controller.quorum.voters must not be set).")
    group.add_argument("--no-initial-controllers", "-N", action="store_true",
                       help="Format a node of a dynamic quorum that is not one of its initial voters "
                            "(it joins later, with kraft-metadata-quorum add-controller).")
    group.add_argument("--initial-controllers", "-I", metavar="ID@HOST:PORT:DIRECTORY_ID,...",
                       help="Format a node of a dynamic quorum with these initial voters; the same value "
                            "must be used to format every node.")
    format_parser.add_argument("--metadata-topic", default=None,
                               help="The partition directory (<topic>-0 under the metadata log directory) the "
                                    "bootstrap checkpoint goes into: kraft's own topic by default "
                                    "(__raft_performance_test); __cluster_metadata for a Kafka controller's "
                                    "directory.")


def parse_dynamic_voter(text: str):
    """``id@host:port:directory-id`` as Kafka's ``DynamicVoter.parse`` reads it: (id, host, port, Uuid)."""
    text = text.strip()
    at = text.find("@")
    if at < 0:
        raise ValueError("No @ found in dynamic voter string.")
    if at == 0:
        raise ValueError("Invalid @ at beginning of dynamic voter string.")
    try:
        node_id = _java_int(text[:at])
    except ValueError:
        raise ValueError("Failed to parse node id in dynamic voter string.") from None
    if node_id < 0:
        raise ValueError(f"Invalid negative node id {node_id} in dynamic voter string.")
    rest = text[at + 1:]
    if not rest:
        raise ValueError("No hostname found after node id.")
    if rest.startswith("["):
        end = rest.find("]")
        if end < 0:
            raise ValueError("Hostname began with left bracket, but no right bracket was found.")
        host, rest = rest[1:end], rest[end + 1:]
    else:
        colon = rest.find(":")
        if colon < 0:
            raise ValueError("No colon following hostname could be found.")
        host, rest = rest[:colon], rest[colon:]
    if not rest.startswith(":"):
        raise ValueError("Port section must start with a colon.")
    rest = rest[1:]
    colon = rest.find(":")
    if colon < 0:
        raise ValueError("No colon following port could be found.")
    try:
        port = _java_int(rest[:colon])
    except ValueError:
        raise ValueError("Failed to parse port in dynamic voter string.") from None
    if not 0 <= port <= 65535:
        raise ValueError(f"Invalid port {port} in dynamic voter string.")
    try:
        directory_id = Uuid.from_string(rest[colon + 1:])
    except (ValueError, KraftError):
        raise ValueError("Failed to parse directory ID in dynamic voter string.") from None
    return node_id, host, port, directory_id


def _java_int(text: str) -> int:
    """``Integer.parseInt``: an optional sign and ASCII digits, within 32 bits."""
    body = text[1:] if text[:1] in "+-" else text
    if not body or not all("0" <= c <= "9" for c in body):
        raise ValueError(text)
    value = int(text)
    if not -2**31 <= value < 2**31:
        raise ValueError(text)
    return value


def parse_dynamic_voters(text: str) -> dict:
    """Kafka's ``DynamicVoters.parse``: node id -> (host, port, directory id), ids distinct, at least one."""
    voters = {}
    for part in text.strip().split(","):
        if not part:
            continue
        node_id, host, port, directory_id = parse_dynamic_voter(part)
        if node_id in voters:
            raise ValueError(f"Node id {node_id} was specified more than once.")
        voters[node_id] = (host, port, directory_id)
    if not voters:
        raise ValueError("No voters given.")
    return voters


def _controller_listener(config: dict):
    """The first controller listener as other nodes reach it (advertised.listeners, else listeners)."""
    from kraft.server.config import ConfigError, parse_listeners

    names = [n.strip().upper() for n in config.get("controller.listener.names", "").split(",") if n.strip()]
    if not names:
        raise ToolError("You must specify the name of the initial controller listener.")
    try:
        for key in ("advertised.listeners", "listeners"):
            for listener in parse_listeners(key, config.get(key, "")):
                if listener.name == names[0]:
                    return names[0], listener.host or "localhost", listener.port
    except ConfigError as exc:
        raise ToolError(str(exc)) from None
    raise ToolError("No controller listeners found.")


def initial_voters(args, config: dict, node_id: int) -> Optional[dict]:
    """The initial voters the format options give (None for a static quorum or --no-initial-controllers)."""
    static_voters = config.get("controller.quorum.voters", "").strip()
    if static_voters and (args.standalone or args.initial_controllers is not None):
        raise ToolError("You cannot specify controller.quorum.voters and format the node with "
                        "--initial-controllers or --standalone. If you want to use dynamic quorum, please "
                        "remove controller.quorum.voters and specify controller.quorum.bootstrap.servers instead.")
    roles = [r.strip() for r in config.get("process.roles", "").split(",") if r.strip()]
    if args.standalone:
        if roles and "controller" not in roles:
            raise ToolError("You can only use --standalone on a controller.")
        _, host, port = _controller_listener(config)
        return {node_id: (host, port, Uuid.random())}
    if args.initial_controllers is not None:
        try:
            return parse_dynamic_voters(args.initial_controllers)
        except ValueError as exc:
            raise ToolError(str(exc)) from None
    if not args.no_initial_controllers and not static_voters and "controller" in roles:
        raise ToolError("Because controller.quorum.voters is not set on this controller, you must specify one "
                        "of the following: --standalone, --initial-controllers, or --no-initial-controllers.")
    return None


def bootstrap_voters_record(voters: dict, listener_name: str):
    """The Voters record of a bootstrap checkpoint, in the order Kafka writes it."""
    from kraft.protocol.messages import VotersRecord
    from kraft.storage.control_state import kafka_voters_record

    low, high = KRAFT_VERSION_RANGE
    return kafka_voters_record(VotersRecord(version=0, voters=[
        VotersRecord.Voter(
            voter_id=node_id, voter_directory_id=directory_id,
            endpoints=[VotersRecord.Endpoint(name=listener_name, host=host, port=port)],
            kraft_version_feature=VotersRecord.KRaftVersionFeature(min_supported_version=low,
                                                                   max_supported_version=high))
        for node_id, (host, port, directory_id) in voters.items()]))


def write_bootstrap_checkpoint(partition_dir: Path, voters: dict, listener_name: str,
                               time_ms=None, last_contained_log_timestamp: Optional[int] = None) -> Path:
    """Write ``00000000000000000000-0000000000.checkpoint`` (kraft.version 1 and the initial voters).

    The layout of Kafka's ``Formatter.writeDynamicQuorumSnapshot``: a control batch with the
    SnapshotHeader, KRaftVersion and Voters records, then the SnapshotFooter batch.  Kafka 4.4
    puts its bootstrap metadata records (feature levels) between them; a kraft node has none.
    """
    import time as _time

    from kraft.core.log import OffsetAndEpoch
    from kraft.storage.snapshots import FileRawSnapshotWriter, RecordsSnapshotWriter

    clock = time_ms or (lambda: _time.time_ns() // 1_000_000)
    if last_contained_log_timestamp is None:
        last_contained_log_timestamp = clock()
    partition_dir.mkdir(parents=True, exist_ok=True)
    raw = FileRawSnapshotWriter.create(partition_dir, OffsetAndEpoch(0, 0))
    writer = RecordsSnapshotWriter(raw, last_contained_log_timestamp, clock, kraft_version=1,
                                   voters=bootstrap_voters_record(voters, listener_name))
    try:
        writer.freeze()
    finally:
        writer.close()
    return raw.path


def format_command(args, out) -> int:
    config = load_config(args.config)
    node_id = node_id_of(config)
    cluster_id = args.cluster_id
    if not cluster_id.strip() or any(c.isspace() for c in cluster_id):
        raise ToolError(f"Invalid cluster id {cluster_id!r}: it must be non-empty, without spaces")
    directories = log_dirs(config)
    if not directories:
        raise ToolError("You must specify at least one directory to format")
    metadata_dir = metadata_log_dir(config)
    voters = initial_voters(args, config, node_id)
    listener_name = _controller_listener(config)[0] if voters is not None else None
    existing = {}
    for directory in directories:
        try:
            meta = read_meta_properties(Path(directory) / META_PROPERTIES)
        except KraftError as exc:
            raise ToolError(str(exc)) from None
        if meta is not None:
            existing[directory] = meta
    for directory, meta in existing.items():
        if meta.cluster_id is not None and meta.cluster_id != cluster_id:
            raise ToolError(f"Invalid cluster.id in: {Path(directory) / META_PROPERTIES}. "
                            f"Expected {cluster_id}, but read {meta.cluster_id}")
        if meta.node_id != node_id:
            raise ToolError(f"Stored node id {meta.node_id} doesn't match previous node id {node_id} "
                            f"in {Path(directory) / META_PROPERTIES}. If you moved your data, make sure "
                            f"your configured node id matches. If you intend to create a new node, you "
                            f"should remove all data in your data directories.")
    if existing and not args.ignore_formatted:
        first = sorted(existing)[0]
        raise ToolError(f"Log directory {first} is already formatted. "
                        f"Use --ignore-formatted to ignore this directory and format the others.")
    empty = [d for d in directories if d not in existing]
    if not empty:
        out.write("All of the log directories are already formatted.\n")
        return 0
    used = {meta.directory_id for meta in existing.values()}
    topic = args.metadata_topic or DEFAULT_TOPIC
    for directory in empty:
        voter_dir = directory == metadata_dir and voters is not None and node_id in voters
        if directory != metadata_dir:
            kind = "data directory"
        elif voters is None:
            kind = "metadata directory"
        else:
            kind = "dynamic metadata voter directory" if voter_dir else "dynamic metadata directory"
        if voter_dir:
            directory_id = voters[node_id][2]     # Kafka: the id --initial-controllers gives this node
        else:
            directory_id = Uuid.random()
            while directory_id in used:
                directory_id = Uuid.random()
        used.add(directory_id)
        out.write(f"Formatting {kind} {directory}.\n")
        try:
            os.makedirs(directory, exist_ok=True)
            if directory == metadata_dir and voters is not None:
                write_bootstrap_checkpoint(Path(directory) / partition_dir_name(topic, 0), voters, listener_name)
            write_meta_properties(Path(directory) / META_PROPERTIES,
                                  MetaProperties(node_id, directory_id, cluster_id))
        except OSError as exc:
            raise ToolError(f"Error while writing meta.properties file {directory}: {exc.strerror or exc}") from None
    return 0


# -- info ------------------------------------------------------------------------------------------


def _meta_summary(meta: MetaProperties) -> str:
    """Kafka prints the properties as a sorted Java map: ``{a=1, b=2}``."""
    items = sorted(meta.to_properties().items())
    return "{" + ", ".join(f"{k}={v}" for k, v in items) + "}"


def _segment_end(path: Path) -> Optional[int]:
    """The offset after the last whole batch of a segment (headers only; None if it holds none)."""
    from kraft.tools.dump_log import iter_batches

    data = path.read_bytes()
    end = None
    for _, header, _ in iter_batches(memoryview(data), len(data)):
        if header is not None:
            end = header.last_offset + 1
    return end


def describe_partition(directory: Path, out) -> None:
    out.write(f"Found partition {directory.name}:\n")
    segments = sorted(directory.glob("*.log"))
    if segments:
        total = sum(p.stat().st_size for p in segments)
        first = int(segments[0].name.split(".")[0])
        end = _segment_end(segments[-1])
        if end is None:
            end = int(segments[-1].name.split(".")[0])
        out.write(f"  segments: {len(segments)}, offsets {first} to {end - 1} "
                  f"(log end offset {end}), {total} bytes\n")
        for path in segments:
            out.write(f"    {path.name} ({path.stat().st_size} bytes)\n")
    else:
        out.write("  segments: none\n")
    snapshots = []
    for path in sorted(directory.iterdir()):
        parsed = parse_snapshot_path(path)
        if parsed is not None and not parsed.partial and not parsed.deleted:
            snapshots.append((path, parsed))
    if snapshots:
        out.write(f"  snapshots: {len(snapshots)}\n")
        for path, parsed in snapshots:
            sid = parsed.snapshot_id
            out.write(f"    {path.name} (end offset {sid.offset}, epoch {sid.epoch}, "
                      f"{path.stat().st_size} bytes)\n")
    else:
        out.write("  snapshots: none\n")
    state = directory / "quorum-state"
    if state.exists():
        try:
            text = json.dumps(json.loads(state.read_text(encoding="utf-8")), separators=(",", ":"))
        except (OSError, ValueError, UnicodeDecodeError) as exc:
            text = f"unreadable ({exc})"
        out.write(f"  quorum-state: {text}\n")
    else:
        out.write("  quorum-state: none\n")


def info_command(args, out) -> int:
    config = load_config(args.config)
    directories = log_dirs(config)
    if not directories:
        out.write("No directories specified.\n")
        return 0
    problems, found, metas = [], [], []
    previous = None
    for directory in directories:
        path = Path(directory)
        if not path.is_dir():
            problems.append(f"{directory} does not exist" if not path.exists() else f"{directory} is not a directory")
            continue
        found.append(directory)
        meta_path = path / META_PROPERTIES
        if not meta_path.exists():
            problems.append(f"{directory} is not formatted.")
            continue
        try:
            meta = read_meta_properties(meta_path)
        except KraftError as exc:
            problems.append(f"Error loading {meta_path}: {exc}")
            continue
        metas.append(meta)
        if previous is None:
            previous = meta
        elif previous.cluster_id != meta.cluster_id:
            problems.append("Mismatched cluster IDs between storage directories.")
        elif previous.node_id != meta.node_id:
            problems.append("Mismatched node IDs between storage directories.")
    if found:
        out.write("Found log directory:\n" if len(found) == 1 else "Found log directories:\n")
        for directory in found:
            out.write(f"  {directory}\n")
        out.write("\n")
    if previous is not None:
        out.write(f"Found metadata: {_meta_summary(previous)}\n\n")
    if problems:
        out.write("Found problem:\n" if len(problems) == 1 else "Found problems:\n")
        for problem in problems:
            out.write(f"  {problem}\n")
        out.write("\n")
    for directory in found:
        for child in sorted(Path(directory).iterdir()):
            if child.is_dir() and "-" in child.name and child.name.rsplit("-", 1)[1].isdigit():
                describe_partition(child, out)
    return 1 if problems else 0


# -- main ------------------------------------------------------------------------------------------


EXIT_STATUS = ("Exit status: 0 when done; 1, with one line on stderr, for a missing or bad configuration, a "
               "directory that cannot be written or is already formatted (without --ignore-formatted), and "
               "for info when it found problems (listed on stdout, as Kafka does); 2 when the options do "
               "not parse.")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=PROG, description=DESCRIPTION, epilog=EXIT_STATUS)
    commands = parser.add_subparsers(dest="command", metavar="{info,format,random-uuid}")
    commands.required = True
    info = commands.add_parser("info", epilog=EXIT_STATUS,
                               help="Get information about the log directories on this node.",
                               description="Get information about the log directories on this node.")
    info.add_argument("--config", "-c", required=True, help="The configuration file to use.")
    fmt = commands.add_parser("format", epilog=EXIT_STATUS, help="Format the log directories on this node.",
                              description="Format the log directories on this node: write meta.properties.")
    fmt.add_argument("--config", "-c", required=True, help="The configuration file to use.")
    fmt.add_argument("--cluster-id", "-t", required=True, help="The cluster ID to use.")
    fmt.add_argument("--ignore-formatted", "-g", action="store_true",
                     help="When this option is passed, the format command will skip over already formatted "
                          "directories rather than failing.")
    add_dynamic_quorum_options(fmt)
    commands.add_parser("random-uuid", help="Print a random UUID.", description="Print a random UUID.")
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    # the library's warnings (connection retries, rate-limited notes) are not the tool's output:
    # a tool reports in its own one line, so they go nowhere unless the caller configured logging
    logging.getLogger("kraft").addHandler(logging.NullHandler())
    out = sys.stdout
    try:
        if args.command == "random-uuid":
            out.write(f"{Uuid.random()}\n")
            return 0
        if args.command == "format":
            return format_command(args, out)
        return info_command(args, out)
    except ToolError as exc:
        out.flush()
        print(exc, file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
