"""``kraft-dump-log``: print log segments, indexes and snapshots as Kafka's DumpLogSegments does.

::

    kraft-dump-log --files F[,F...] [--deep-iteration] [--print-data-log]
                   [--verify-index-only] [--index-sanity-check] [--cluster-metadata-decoder]
                   [--skip-record-metadata] [--max-message-size N] [--max-bytes N]

``.log`` segments and ``.checkpoint`` snapshots print one line per batch
(``--deep-iteration``: and one per record; ``--print-data-log``: with the
record's key and payload as UTF-8 text); ``.index`` and ``.timeindex`` files
print their entries and are checked against the segment they index.  The
lines have the fields and wording of Kafka 4.x's ``DumpLogSegments``, so
scripts written for it read this output too.  Control records are always
decoded (LeaderChange, SnapshotHeader, SnapshotFooter, KRaftVersion,
KRaftVoters as the JSON of Kafka's generated converters).

Where Kafka's tool stops with a stack trace (a batch length below the
minimum, a record that does not parse, an index entry past the end of its
segment), this one prints one line on stderr naming the file and byte
position and goes on with the next batch or entry it can find.  The exit
status is 0 when every file was read without a problem, 1 when anything was
reported on stderr, 2 for bad command-line options.
"""
from __future__ import annotations

import argparse
import logging
import bisect
import json
import os
import re
import struct
import sys
from typing import Dict, List, Optional, Sequence, TextIO, Tuple

from kraft.checksum import crc32c
from kraft.errors import KraftError
from kraft.records import RecordBatch
from kraft.records.control import ControlRecordType, decode_control_key, decode_control_value
from kraft.records.constants import LOG_OVERHEAD, RECORD_BATCH_OVERHEAD

PROG = "kraft-dump-log"
DESCRIPTION = ("Parse log segments, indexes and snapshots and dump their contents to the console, "
               "as Kafka's DumpLogSegments does.")

RECORD_INDENT = "|"
HEADER_SIZE_UP_TO_MAGIC = 17      # what must remain before a batch is looked at
MIN_RECORD_OVERHEAD = 14          # Kafka's smallest (v0) record overhead
INT32_MAX = 2**31 - 1
_HEADER = struct.Struct(">qiibIhiqqqhii")
_INDEX_ENTRY = struct.Struct(">ii")
_TIME_INDEX_ENTRY = struct.Struct(">qi")
_CODECS = ("none", "gzip", "snappy", "lz4", "zstd")
_SNAPSHOT_NAME = re.compile(r"^(\d{20})-(\d{10})\.checkpoint$")
BOOTSTRAP_SNAPSHOT = "bootstrap.checkpoint"

_CONTROL_LABELS = {
    ControlRecordType.LEADER_CHANGE: " LeaderChange: ",
    ControlRecordType.SNAPSHOT_HEADER: " SnapshotHeader ",
    ControlRecordType.SNAPSHOT_FOOTER: " SnapshotFooter ",
    ControlRecordType.KRAFT_VERSION: " KRaftVersion ",
    ControlRecordType.KRAFT_VOTERS: " KRaftVoters ",
}


class DumpError(Exception):
    """A problem that ends the dump of one file (the tool goes on with the next)."""


def _increment_sequence(sequence: int, increment: int) -> int:
    if sequence > INT32_MAX - increment:
        return increment - (INT32_MAX - sequence) - 1
    return sequence + increment


def _bool(value: bool) -> str:
    return "true" if value else "false"


def _json(obj) -> str:
    """Compact JSON as Jackson's ``JsonNode.toString()`` writes it."""
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False)


class BatchHeader:
    """The fixed header of a magic-2 batch, read without checking anything."""

    __slots__ = ("position", "base_offset", "length", "partition_leader_epoch", "magic", "crc",
                 "attributes", "last_offset_delta", "base_timestamp", "max_timestamp", "producer_id",
                 "producer_epoch", "base_sequence", "count")

    def __init__(self, data, position: int):
        (self.base_offset, self.length, self.partition_leader_epoch, self.magic, self.crc,
         self.attributes, self.last_offset_delta, self.base_timestamp, self.max_timestamp,
         self.producer_id, self.producer_epoch, self.base_sequence,
         self.count) = _HEADER.unpack_from(data, position)
        self.position = position

    @property
    def size(self) -> int:
        return self.length + LOG_OVERHEAD

    @property
    def last_offset(self) -> int:
        return self.base_offset + self.last_offset_delta

    @property
    def timestamp_type(self) -> str:
        return "LogAppendTime" if self.attributes & 0x08 else "CreateTime"

    @property
    def is_control(self) -> bool:
        return bool(self.attributes & 0x20)

    @property
    def is_transactional(self) -> bool:
        return bool(self.attributes & 0x10)

    @property
    def codec(self) -> str:
        codec = self.attributes & 0x07
        return _CODECS[codec] if codec < len(_CODECS) else f"unknown({codec})"

    @property
    def last_sequence(self) -> int:
        if self.base_sequence == -1:
            return -1
        return _increment_sequence(self.base_sequence, self.last_offset_delta)

    @property
    def delete_horizon(self) -> str:
        if self.attributes & 0x40:
            return f"OptionalLong[{self.base_timestamp}]"
        return "OptionalLong.empty"


def iter_batches(data, limit: int):
    """Yield ``(position, header or None, error or None)`` for each batch in ``data[:limit]``.

    Follows Kafka's ``FileLogInputStream``: the walk ends when fewer than 17
    bytes remain or a batch runs past the end.  A length below the minimum
    (where Kafka throws) is reported and the walk stops there, since the next
    batch's position cannot be known.
    """
    position = 0
    while position < limit - HEADER_SIZE_UP_TO_MAGIC:
        base_offset, length = struct.unpack_from(">qi", data, position)
        if length < MIN_RECORD_OVERHEAD:
            yield position, None, (f"batch length {length} is smaller than the minimum record "
                                   f"overhead ({MIN_RECORD_OVERHEAD}) at position {position}")
            return
        if position > limit - LOG_OVERHEAD - length:
            return
        magic = struct.unpack_from(">b", data, position + 16)[0]
        if magic != 2:
            yield position, None, (f"batch at position {position} (offset {base_offset}) has magic "
                                   f"{magic}; only magic 2 is read, skipped {length + LOG_OVERHEAD} bytes")
        elif length + LOG_OVERHEAD < RECORD_BATCH_OVERHEAD:
            yield position, None, (f"batch at position {position} (offset {base_offset}) is "
                                   f"{length + LOG_OVERHEAD} bytes, shorter than its "
                                   f"{RECORD_BATCH_OVERHEAD}-byte header")
        else:
            yield position, BatchHeader(data, position), None
        position += length + LOG_OVERHEAD


class Dumper:
    def __init__(self, args, out: TextIO, err: TextIO):
        self.args = args
        self.out = out
        self.err = err
        self.problems = 0
        self.print_data = args.print_data_log or args.cluster_metadata_decoder
        self.deep = args.deep_iteration or self.print_data
        self.index_mismatches: Dict[str, Dict[int, int]] = {}
        self.non_consecutive: Dict[str, Dict[int, int]] = {}
        self.time_mismatch: Dict[str, List[Tuple[int, int]]] = {}
        self.time_out_of_order: Dict[str, List[Tuple[int, int]]] = {}
        self.time_not_found: Dict[str, List[Tuple[int, int]]] = {}

    def problem(self, message: str) -> None:
        self.problems += 1
        self.err.write(message + "\n")

    # -- files -------------------------------------------------------------------------------

    def dump(self, name: str) -> None:
        self.out.write(f"Dumping {name}\n")
        base = os.path.basename(name)
        dot = base.rfind(".")
        suffix = base[dot:] if dot >= 0 else ""
        try:
            if suffix in (".log", ".checkpoint", ".index", ".timeindex") and not os.path.isfile(name):
                raise OSError(0, "No such file or directory" if not os.path.exists(name) else "Not a regular file")
            if suffix in (".log", ".checkpoint"):
                self.dump_log(name)
            elif suffix == ".index":
                self.dump_index(name)
            elif suffix == ".timeindex":
                self.dump_time_index(name)
            else:
                self.problem(f"Ignoring unknown file {name}")
        except DumpError as exc:
            self.problem(f"{name}: {exc}")
        except OSError as exc:
            self.problem(f"{name}: {exc.strerror or exc}")

    @staticmethod
    def _read(path: str) -> bytes:
        with open(path, "rb") as f:
            return f.read()

    def _read_segment(self, index_path: str, log_path: str) -> bytes:
        """The segment an index points into; a missing one is named (the index alone cannot be checked)."""
        try:
            return self._read(log_path)
        except OSError as exc:
            raise DumpError(f"cannot read its segment {os.path.basename(log_path)}: "
                            f"{exc.strerror or exc}") from None

    @staticmethod
    def _start_offset(path: str) -> int:
        stem = os.path.basename(path).split(".")[0]
        try:
            return int(stem)
        except ValueError:
            raise DumpError(f"file name does not start with a base offset: {os.path.basename(path)!r}") from None

    def dump_log(self, path: str) -> None:
        base = os.path.basename(path)
        if base.endswith(".log"):
            self.out.write(f"Log starting offset: {self._start_offset(path)}\n")
        elif base == BOOTSTRAP_SNAPSHOT:
            self.out.write("KRaft bootstrap snapshot\n")
        else:
            match = _SNAPSHOT_NAME.match(base)
            if match is None:
                raise DumpError("not a snapshot file name (<20-digit offset>-<10-digit epoch>.checkpoint)")
            self.out.write(f"Snapshot end offset: {int(match.group(1))}, epoch: {int(match.group(2))}\n")
        data = self._read(path)
        max_bytes = self.args.max_bytes
        limit = min(len(data), max_bytes)
        view = memoryview(data)
        valid = 0
        last_offset = [-1]
        for position, header, error in iter_batches(view, limit):
            if error is not None:
                self.problem(f"{path}: {error}")
                length = struct.unpack_from(">i", view, position + 8)[0]
                if length >= MIN_RECORD_OVERHEAD:
                    valid = position + length + LOG_OVERHEAD
                continue
            self.print_batch(view, header, valid)
            if self.deep:
                self.dump_records(path, view, header, last_offset)
            valid = position + header.size
        trailing = limit - valid
        if trailing > 0 and max_bytes == INT32_MAX:
            self.out.write(f"Found {trailing} invalid bytes at the end of {base}\n")

    def print_batch(self, view, h: BatchHeader, position: int) -> None:
        computed = crc32c(view[h.position + 21:h.position + h.size])
        self.out.write(
            f"baseOffset: {h.base_offset} lastOffset: {h.last_offset} count: {h.count} "
            f"baseSequence: {h.base_sequence} lastSequence: {h.last_sequence} "
            f"producerId: {h.producer_id} producerEpoch: {h.producer_epoch} "
            f"partitionLeaderEpoch: {h.partition_leader_epoch} isTransactional: {_bool(h.is_transactional)} "
            f"isControl: {_bool(h.is_control)} deleteHorizonMs: {h.delete_horizon} "
            f"position: {position} {h.timestamp_type}: {h.max_timestamp} size: {h.size} magic: {h.magic} "
            f"compresscodec: {h.codec} crc: {h.crc} isvalid: {_bool(computed == h.crc)}\n")

    def dump_records(self, path: str, view, h: BatchHeader, last_offset: List[int]) -> None:
        absolute = os.path.abspath(path)
        try:
            batch = RecordBatch(view[h.position:h.position + h.size], h.position)
            records = iter(batch)
            while True:
                try:
                    record = next(records)
                except StopIteration:
                    break
                previous = last_offset[0]
                if record.offset != previous + 1:
                    self.non_consecutive.setdefault(absolute, {})[previous] = record.offset
                last_offset[0] = record.offset
                line = self.record_line(h, record)
                self.out.write(line + "\n")
        except KraftError as exc:
            self.problem(f"{path}: cannot read the records of the batch at position {h.position} "
                         f"(base offset {h.base_offset}): {exc}")

    def record_line(self, h: BatchHeader, record) -> str:
        parts = []
        if not self.args.skip_record_metadata:
            key_size = -1 if record.key is None else len(record.key)
            value_size = -1 if record.value is None else len(record.value)
            delta = record.offset - h.base_offset
            sequence = -1 if h.base_sequence == -1 else _increment_sequence(h.base_sequence, delta)
            header_keys = ",".join(key for key, _ in record.headers)
            parts.append(f"{RECORD_INDENT} offset: {record.offset} {h.timestamp_type}: {record.timestamp} "
                         f"keySize: {key_size} valueSize: {value_size} sequence: {sequence} "
                         f"headerKeys: [{header_keys}]")
            if h.is_control:
                parts.append(self.control_text(record))
        if self.print_data and not h.is_control:
            prefix = RECORD_INDENT + " " if self.args.skip_record_metadata else " "
            if record.key is not None:
                parts.append(f"{prefix}key: {bytes(record.key).decode('utf-8', 'replace')}")
                prefix = " "
            if record.value is not None:
                parts.append(f"{prefix}payload: {bytes(record.value).decode('utf-8', 'replace')}")
        return "".join(parts)

    @staticmethod
    def control_text(record) -> str:
        key = decode_control_key(record.key)
        if key.type in (ControlRecordType.ABORT, ControlRecordType.COMMIT):
            marker = decode_control_value(key.type, record.value)
            return f" endTxnMarker: {key.type.name} coordinatorEpoch: {marker.coordinator_epoch}"
        label = _CONTROL_LABELS.get(key.type)
        if label is None:
            return f" controlType: {key.type.name}({key.type_id})"
        message = decode_control_value(key.type, record.value)
        return label + _json(message.to_json(message.version))

    # -- indexes ------------------------------------------------------------------------------

    def _segment_for(self, path: str, suffix: str) -> str:
        directory = os.path.dirname(os.path.abspath(path))
        return os.path.join(directory, os.path.basename(path).split(".")[0] + suffix)

    @staticmethod
    def _index_entries(data: bytes, entry: struct.Struct) -> list:
        count = len(data) // entry.size
        return [entry.unpack_from(data, i * entry.size) for i in range(count)]

    def _first_batch_at(self, log: memoryview, position: int, max_size: int) -> Optional[BatchHeader]:
        limit = min(len(log), position + max_size)
        if position > len(log):
            raise DumpError(f"position {position} is past the end of the segment ({len(log)} bytes)")
        if position < 0:
            raise DumpError(f"position {position} is negative")
        for _, header, error in iter_batches(log[position:limit], limit - position):
            if error is not None:
                raise DumpError(f"{error} (relative to position {position})")
            header.position += position
            return header
        return None

    def dump_index(self, path: str) -> None:
        start = self._start_offset(path)
        log_path = self._segment_for(path, ".log")
        log = memoryview(self._read_segment(path, log_path))
        data = self._read(path)
        entries = self._index_entries(data, _INDEX_ENTRY)
        if not entries:
            self.out.write(f"{path} is empty.\n")
            return
        if self.args.index_sanity_check:
            self._offset_index_sanity(path, start, data, entries)
            return
        for i, (relative, position) in enumerate(entries):
            offset = start + relative
            if offset == start and i > 0:
                return
            try:
                batch = self._first_batch_at(log, position, self.args.max_message_size)
            except DumpError as exc:
                self.problem(f"{path}: index entry {i} (offset {offset}): {exc}")
                batch = None
            else:
                if batch is None:
                    self.problem(f"{path}: index entry {i} (offset {offset}): no whole batch at "
                                 f"position {position} of {os.path.basename(log_path)}")
            if batch is not None and batch.last_offset != offset:
                self.index_mismatches.setdefault(os.path.abspath(path), {})[offset] = batch.last_offset
            if not self.args.verify_index_only:
                self.out.write(f"offset: {offset} position: {position}\n")

    def _offset_index_sanity(self, path, start, data, entries) -> None:
        if len(data) % _INDEX_ENTRY.size:
            self.problem(f"Index file {os.path.basename(path)} is corrupt, found {len(data)} bytes "
                         f"which is neither positive nor a multiple of {_INDEX_ENTRY.size}.")
            return
        last = start + entries[-1][0]
        if last < start:
            self.problem(f"Corrupt index found, index file ({path}) has non-zero size but the last "
                         f"offset is {last} which is less than the base offset {start}.")
            return
        self.out.write(f"{path} passed sanity check.\n")

    def dump_time_index(self, path: str) -> None:
        start = self._start_offset(path)
        log_path = self._segment_for(path, ".log")
        index_path = self._segment_for(path, ".index")
        log = memoryview(self._read_segment(path, log_path))
        index = self._index_entries(self._read(index_path), _INDEX_ENTRY)
        data = self._read(path)
        entries = self._index_entries(data, _TIME_INDEX_ENTRY)
        if self.args.index_sanity_check:
            if len(data) % _TIME_INDEX_ENTRY.size:
                self.problem(f"Time index file {os.path.basename(path)} is corrupt, found {len(data)} bytes "
                             f"which is neither positive nor a multiple of {_TIME_INDEX_ENTRY.size}.")
            else:
                self.out.write(f"{path} passed sanity check.\n")
            return
        # Offsets of the offset index, up to its first zero (unused) entry.
        index_offsets, index_positions = [], []
        for i, (relative, position) in enumerate(index):
            if relative == 0 and i > 0:
                break
            index_offsets.append(start + relative)
            index_positions.append(position)
        absolute = os.path.abspath(path)
        previous = -1
        for i, (timestamp, relative) in enumerate(entries):
            offset = start + relative
            if offset == start and i > 0:
                return
            slot = bisect.bisect_right(index_offsets, offset) - 1
            position = index_positions[slot] if slot >= 0 else 0
            matching = None
            if position <= len(log):
                for _, header, error in iter_batches(log[position:], len(log) - position):
                    if error is not None:
                        self.problem(f"{path}: time index entry {i} (offset {offset}): {error} "
                                     f"(relative to position {position})")
                        break
                    if header.last_offset >= offset:
                        header.position += position
                        matching = header
                        break
            if matching is None:
                self.time_not_found.setdefault(absolute, []).append((offset, -1))
            elif matching.last_offset != offset:
                self.time_not_found.setdefault(absolute, []).append((offset, matching.last_offset))
            else:
                max_timestamp = -1
                try:
                    batch = RecordBatch(log[matching.position:matching.position + matching.size],
                                        matching.position)
                    for record in batch:
                        max_timestamp = max(max_timestamp, record.timestamp)
                except KraftError as exc:
                    self.problem(f"{path}: time index entry {i}: cannot read the batch at position "
                                 f"{matching.position} of {os.path.basename(log_path)}: {exc}")
                else:
                    if max_timestamp != timestamp:
                        self.time_mismatch.setdefault(absolute, []).append((timestamp, max_timestamp))
                    if previous >= timestamp:
                        self.time_out_of_order.setdefault(absolute, []).append((timestamp, previous))
            if not self.args.verify_index_only:
                self.out.write(f"timestamp: {timestamp} offset: {offset}\n")
            previous = timestamp

    # -- summary ------------------------------------------------------------------------------

    def report(self) -> None:
        for name, mismatches in self.index_mismatches.items():
            self.problem(f"Mismatches in :{name}")
            for index_offset in sorted(mismatches, reverse=True):
                self.err.write(f"  Index offset: {index_offset}, log offset: {mismatches[index_offset]}\n")
        for name, items in self.time_mismatch.items():
            self.problem(f"Found timestamp mismatch in :{name}")
            for index_ts, log_ts in items:
                self.err.write(f"  Index timestamp: {index_ts}, log timestamp: {log_ts}\n")
        for name, items in self.time_out_of_order.items():
            self.problem(f"Found out of order timestamp in :{name}")
            for index_ts, previous in items:
                self.err.write(f"  Index timestamp: {index_ts}, Previously indexed timestamp: {previous}\n")
        for name, items in self.time_not_found.items():
            self.problem(f"The following indexed offsets are not found in :{name}")
            for index_offset, log_offset in items:
                self.err.write(f"Indexed offset: {index_offset}, found log offset: {log_offset}\n")
        for name, pairs in self.non_consecutive.items():
            self.problem(f"Non-consecutive offsets in {name}")
            for first in sorted(pairs):
                self.err.write(f"  {first} is followed by {pairs[first]}\n")


def _size(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
    if value <= 0 or value > INT32_MAX:
        raise argparse.ArgumentTypeError(f"must be between 1 and {INT32_MAX}, got {value}")
    return value


EXIT_STATUS = ("Exit status: 0 when every file was read without a problem; 1 when a file is missing, unreadable "
               "or not what its name says, or anything else was reported on stderr (one line per problem, "
               "naming the file and position); 2 when the options do not parse.")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=PROG, description=DESCRIPTION, epilog=EXIT_STATUS)
    p.add_argument("--files", required=True, metavar="file1,file2,...",
                   help="REQUIRED: the comma separated list of data and index log files to be dumped")
    p.add_argument("--print-data-log", action="store_true",
                   help="print the records' keys and payloads (UTF-8 text); implies --deep-iteration")
    p.add_argument("--deep-iteration", action="store_true",
                   help="print every record, not only every batch")
    p.add_argument("--verify-index-only", action="store_true",
                   help="check .index/.timeindex files against their segment without printing their entries")
    p.add_argument("--index-sanity-check", action="store_true",
                   help="only check that index files are well formed (the check done when a log opens)")
    p.add_argument("--cluster-metadata-decoder", action="store_true",
                   help="accepted for Kafka compatibility: implies --print-data-log (control records are "
                        "always decoded; data records print as text, kraft has no metadata record schemas)")
    p.add_argument("--skip-record-metadata", action="store_true",
                   help="print only the records' contents, not their metadata (control records are skipped)")
    p.add_argument("--max-message-size", type=_size, default=5 * 1024 * 1024, metavar="SIZE",
                   help="size of the largest batch, for reading at an index entry (default 5242880)")
    p.add_argument("--max-bytes", type=_size, default=INT32_MAX, metavar="SIZE",
                   help="read at most this many bytes of each .log/.checkpoint file")
    return p


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    # the library's warnings (connection retries, rate-limited notes) are not the tool's output:
    # a tool reports in its own one line, so they go nowhere unless the caller configured logging
    logging.getLogger("kraft").addHandler(logging.NullHandler())
    files = [f for f in args.files.split(",")]
    if not any(files):
        print(f"{PROG}: error: --files names no file", file=sys.stderr)
        return 2
    dumper = Dumper(args, sys.stdout, sys.stderr)
    try:
        for name in files:
            dumper.dump(name)
        dumper.report()
        sys.stdout.flush()
    except BrokenPipeError:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 1
    return 1 if dumper.problems else 0


if __name__ == "__main__":
    sys.exit(main())
