"""Type stubs for kraft._native.segment (see segment.pyx)."""
from typing import Any, Callable, List, Optional, Tuple, Union

Buffer = Union[bytes, bytearray, memoryview, "MappedFile"]

BATCH_OVERHEAD: int
INDEX_ENTRY_SIZE: int
TIME_INDEX_ENTRY_SIZE: int

class ScanResult:
    valid_bytes: int
    error: Optional[str]
    batch_count: int
    first_offset: int
    next_offset: int
    max_timestamp: int
    offset_of_max_timestamp: int
    last_epoch: int
    epoch_starts: List[Tuple[int, int]]
    offset_index: bytes
    time_index: bytes
    first_max_timestamp: int
    epoch_error: bool

def scan_batches(
    buffer: Buffer,
    base_offset: int = 0,
    index_interval_bytes: int = 4096,
    max_batch_size: int = 0,
    check_crc: bool = True,
    last_epoch: int = -1,
    expected_offset: int = -1,
    contiguous: bool = False,
    max_epoch: int = 2147483647,
    strict_epochs: bool = False,
) -> ScanResult: ...
def prepare_append(
    records: Buffer,
    as_leader: bool,
    next_offset: int,
    epoch: int,
    last_epoch: int = -1,
    max_batch_size: int = 0,
    new_epoch_cache: bool = False,
    check_crc: bool = True,
) -> Tuple[Union[bytes, bytearray, memoryview], int, int, int, int, int, List[Tuple[int, int]]]: ...
def batch_positions(buffer: Buffer) -> Tuple[List[int], List[int]]: ...
def find_batch_end(buffer: Buffer, start: int, target_offset: int, max_bytes: int) -> Tuple[int, int]: ...
def index_lookup(entries: Buffer, relative_offset: int) -> Tuple[int, int]: ...
def time_index_lookup(entries: Buffer, timestamp: int) -> Tuple[int, int]: ...
def control_record_type(batch: Buffer) -> Optional[int]: ...

class NativeLogSegment:
    fd: int
    base_offset: int
    size: int
    next_offset: int
    max_timestamp: int
    offset_of_max_timestamp: int
    rolling_based_timestamp: Optional[int]
    created_ms: int
    bytes_since_last_index_entry: int
    index_interval_bytes: int
    offset_index: Any
    time_index: Any
    write_fn: Optional[Callable[[int, memoryview], int]]
    def set_append_limits(
        self,
        segment_bytes: int,
        segment_ms: int,
        max_batch_size: int,
        check_leader_crc: bool,
        time_ms: Callable[[], int],
        append_info: type,
        on_epoch_start: Callable[[int, int], None],
    ) -> None: ...
    def append_batches(
        self, records: Buffer, as_leader: bool, epoch: int, last_epoch: int, new_epoch_cache: bool
    ) -> Optional[Any]: ...

class MappedFile:
    length: int
    def __init__(self, fd: int, length: int) -> None: ...
    @property
    def exported(self) -> int: ...
    def detach_tail(self, new_size: int, file_size: int = -1) -> None: ...
    def release_pages(self) -> None: ...
    def close(self) -> None: ...
