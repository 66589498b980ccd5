"""Child process for the crash tests: appends and fsyncs until it is killed.

Usage: python crash_child.py <partition dir>

Batch i holds ``1 + i % 5`` records ``b"<i>-<j>" * (1 + i % 7)`` and is
appended as leader in epoch ``1 + i // 50``; before the first batch of an
epoch the election is written to quorum-state.  After each append returns
(flushed: the log fsyncs every append) the child prints ``<end offset> <i>``.
"""
import sys

from kraft.storage import ElectionState, FileReplicatedLog, FlushPolicy, LogConfig, QuorumStateStore
from kraft.records import decode_batches, encode_batch


def values(i):
    return [(b"%d-%d" % (i, j)) * (1 + i % 7) for j in range(1 + i % 5)]


def epoch_of(i):
    return 1 + i // 50


def count_batches(log):
    count, offset = 0, log.start_offset
    while offset < log.end_offset:
        for batch in decode_batches(log.read(offset, 1 << 20).records):
            count += 1
            offset = batch.last_offset + 1
    return count


def main(directory):
    config = LogConfig(segment_bytes=16 * 1024, flush_policy=FlushPolicy.every_append())
    log = FileReplicatedLog.open(directory, config)
    store = QuorumStateStore(f"{directory}/quorum-state")
    i = count_batches(log)    # carry on where the recovered log ends
    while True:
        epoch = epoch_of(i)
        if i % 50 == 0:
            store.write_election_state(ElectionState(epoch, leader_id=1, voters={1, 2, 3}), 1)
            log.initialize_leader_epoch(epoch)
        info = log.append_as_leader(encode_batch(values(i), timestamp=1_700_000_000_000 + i), epoch)
        sys.stdout.write(f"{info.last_offset + 1} {i}\n")
        sys.stdout.flush()
        i += 1


if __name__ == "__main__":
    main(sys.argv[1])
