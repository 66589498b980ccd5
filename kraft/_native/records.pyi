from collections.abc import Iterable, Iterator
from typing import Any

from typing_extensions import Buffer

class Record:
    value: memoryview | bytes | None
    key: memoryview | bytes | None
    headers: tuple[tuple[str, bytes | None], ...]
    timestamp: int | None
    offset: int | None
    def __init__(
        self,
        value: Buffer | None,
        key: Buffer | None = ...,
        headers: Iterable[tuple[str, Buffer | None]] = ...,
        timestamp: int | None = ...,
        offset: int | None = ...,
    ) -> None: ...

class RecordBatch:
    position: int
    size_in_bytes: int
    base_offset: int
    last_offset: int
    partition_leader_epoch: int
    magic: int
    crc: int
    attributes: int
    compression: str
    timestamp_type: str
    is_control: bool
    is_transactional: bool
    producer_id: int
    producer_epoch: int
    base_sequence: int
    base_timestamp: int
    max_timestamp: int
    record_count: int
    buffer: memoryview
    def __init__(self, buffer: Buffer, position: int = ..., max_decompressed_size: int | None = ...) -> None: ...
    def __len__(self) -> int: ...
    def __iter__(self) -> Iterator[Record]: ...
    def values(self) -> list[memoryview | None]: ...
    def compute_crc(self) -> int: ...
    def is_valid_crc(self) -> bool: ...
    def check_crc(self) -> None: ...
    def validate(self) -> None: ...

class BatchIterator(Iterator[RecordBatch]):
    position: int
    trailing_bytes: int
    def __init__(
        self,
        buffer: Buffer,
        check_crc: bool = ...,
        max_batch_size: int | None = ...,
        max_decompressed_size: int | None = ...,
    ) -> None: ...
    def __next__(self) -> RecordBatch: ...

def encode_batch(
    records: Iterable[Record | Buffer | Any],
    *,
    base_offset: int = ...,
    partition_leader_epoch: int = ...,
    timestamp: int | None = ...,
    compression: str | int = ...,
    is_control: bool = ...,
    is_transactional: bool = ...,
    producer_id: int = ...,
    producer_epoch: int = ...,
    base_sequence: int = ...,
    log_append_time: int | None = ...,
) -> bytes: ...
def decode_batches(
    buffer: Buffer,
    *,
    check_crc: bool = ...,
    max_batch_size: int | None = ...,
    max_decompressed_size: int | None = ...,
) -> BatchIterator: ...

def record_size(offset_delta: int, value_length: int) -> int: ...
