"""``test-kraft-server-start``: a standalone KRaft node for performance testing.

Kafka's ``kafka.tools.TestRaftServer``, with its options::

    test-kraft-server-start --config FILE [--throughput RECORDS_PER_SEC]
                            [--record-size BYTES] [--replica-directory-id ID]

The node replicates ``__raft_performance_test``-0 with the voters of its
configuration.  While it leads it appends ``--record-size``-byte records at
``--throughput`` records/s and prints Kafka's summary line every 5 s
(:mod:`kraft.tools.workload`); other nodes log the leader, epoch and high
watermark.  A node whose id is not among ``controller.quorum.voters`` is an
observer: it replicates without voting.  Every node snapshots its trivial
state (the committed record count) as Kafka's controller does, and deletes
segments covered by its latest snapshot beyond the retention limits
(:mod:`kraft.tools.snapshots`, :mod:`kraft.server.config` for the keys).
SIGINT or SIGTERM resigns leadership, flushes the log and exits with status
0; a second signal exits at once (status 1).

Startup problems (bad options, unreadable or invalid configuration, a port in
use, a log directory that cannot be used) print one line on stderr and exit
with status 1 (2 for unparseable command-line options, as argparse does).
Set ``KRAFT_NO_UVLOOP=1`` to run on the standard asyncio loop.
"""
from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys
from pathlib import Path
from typing import Optional, Sequence

from kraft._version import __version__
from kraft.errors import KraftError
from kraft.net import loop as event_loop
from kraft.protocol.uuid import Uuid
from kraft.server.driver import NodeIdConflictError, wall_clock_ms
from kraft.server.raft_manager import RaftManager, StartupError
from kraft.server.config import ServerConfig
from kraft.tools.perf_stats import LatencyHistogram
from kraft.tools.snapshots import TestServerState
from kraft.records.constants import KRAFT_MAX_BATCH_SIZE
from kraft.tools.workload import Workload, max_record_size

PROG = "test-kraft-server-start"
DESCRIPTION = "Standalone raft server for performance testing"
LOG_FORMAT = "[%(asctime)s] %(levelname)s %(message)s (%(name)s)"


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be positive, got {value}")
    return value


def _directory_id(text: str) -> Uuid:
    try:
        value = Uuid.from_string(text)
    except (ValueError, KraftError) as e:
        raise argparse.ArgumentTypeError(f"{text!r} is not a Kafka Uuid (22 URL-safe base64 characters): {e}") \
            from None
    if value == Uuid.ZERO:
        raise argparse.ArgumentTypeError("the zero Uuid is not a valid directory id")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG, description=DESCRIPTION,
        epilog="The node uses uvloop when it is installed; set KRAFT_NO_UVLOOP=1 for the standard asyncio loop. "
               "The configuration key kraft.test.rpc.v0.only=true limits the node to the original KRaft RPC "
               "versions (for mixed-version tests); kraft.test.log.clean.interval.ms sets how often retention "
               "is applied (Kafka: 60000).")
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--config", metavar="FILE",
                        help="Required configuration file (Kafka properties format); the name of a configuration "
                             f"shipped with kraft is accepted too ({', '.join(packaged_configs())})")
    source.add_argument("--standalone", action="store_true",
                        help="Quick start: a single-node quorum on the shipped configuration kraft.properties "
                             "(node 0 on localhost:9092, log in /tmp/kraft-logs)")
    parser.add_argument("--throughput", metavar="RECORDS_PER_SEC", type=_positive_int, default=5000,
                        help="The number of records per second the leader will write to the metadata topic "
                             "(default: %(default)s)")
    parser.add_argument("--record-size", metavar="BYTES", type=_positive_int, default=256,
                        help="The size of each record (default: %(default)s)")
    parser.add_argument("--replica-directory-id", metavar="ID", type=_directory_id,
                        help="The directory id of the replica; when absent one is generated on first start "
                             "and kept in meta.properties")
    parser.add_argument("--latency-histogram", metavar="FILE",
                        help="When the node stops, write every commit latency it measured as leader to FILE "
                             "(CSV: latency_ms,count,cumulative_fraction, one row per 1 ms bucket)")
    parser.add_argument("--version", action="version", version=f"%(prog)s (kraft {__version__})")
    return parser


#: The example configurations shipped in the package (the checkout's ``config/`` links here).
PACKAGED_CONFIG_DIR = Path(__file__).resolve().with_name("config")


def packaged_configs() -> list[str]:
    """Names of the configurations shipped with kraft."""
    return sorted(p.name for p in PACKAGED_CONFIG_DIR.glob("*.properties"))


def resolve_config(name: str) -> str:
    """``name`` itself when it is a file; else, for a bare name, the shipped configuration so named
    (``.properties`` optional), so the examples need no checkout."""
    if os.path.exists(name) or os.sep in name:
        return name
    for candidate in (name, name + ".properties"):
        if candidate in packaged_configs():
            return str(PACKAGED_CONFIG_DIR / candidate)
    return name


def load_config(path: str, warn=None) -> ServerConfig:
    """Read and validate the configuration file, as one-line StartupErrors."""
    try:
        return ServerConfig.load(path, warn=warn)
    except OSError as e:
        raise StartupError(f"cannot read configuration file {path}: {e.strerror or e}") from e
    except KraftError as e:
        raise StartupError(f"invalid configuration in {path}: {e}") from e


async def serve(options: argparse.Namespace, config: ServerConfig) -> int:
    """Start the node (listeners, log directory, log), run the workload until SIGINT/SIGTERM,
    then shut down gracefully; a second signal exits at once."""
    manager = RaftManager(config, directory_id=options.replica_directory_id)
    await manager.start()
    try:
        client = manager.client
        state = TestServerState(
            client, max_bytes_between_snapshots=config.metadata_log_max_record_bytes_between_snapshots,
            max_interval_ms=config.metadata_log_max_snapshot_interval_ms, clock=wall_clock_ms)
        workload = Workload(client, config.node_id, throughput=options.throughput,
                            record_size=options.record_size, clock=wall_clock_ms, on_append=manager.wakeup,
                            state=state)
        histogram = None
        if options.latency_histogram:
            histogram = workload.stats.whole_run = LatencyHistogram()
        manager.wakeup()  # the workload registered its listener on the client: serve it now
        loop = asyncio.get_running_loop()
        signals = []

        def on_signal(signum: int) -> None:
            signals.append(signum)
            if len(signals) > 1:
                logging.getLogger("kraft.server").warning("Second signal: exiting at once")
                os._exit(1)
            logging.getLogger("kraft.server").info("Signal %d: shutting down (resigning if leader)", signum)
            manager.request_stop()

        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, on_signal, signum)
        logging.getLogger("kraft.server").info(
            "Node %d (directory id %s) started on %s with the %s loop; log directory %s", config.node_id,
            manager.meta.directory_id,
            ", ".join(f"{name}://{host}:{port}" for name, (host, port) in manager.bound.items()),
            event_loop.loop_name(), os.path.abspath(config.metadata_log_dir))
        node = manager.client.node
        if not node.is_voter:  # the voters in force: the log's (kraft.version 1) or controller.quorum.voters
            logging.getLogger("kraft.server").info("Node %d is not one of the voters %s: it observes",
                                                   config.node_id, sorted(node.voters.ids))
        workload_task = loop.create_task(workload.run())
        try:
            await manager.wait_stopped()
        finally:
            workload_task.cancel()
            for signum in (signal.SIGINT, signal.SIGTERM):
                loop.remove_signal_handler(signum)
        logging.getLogger("kraft.server").info("Node %d shut down cleanly", config.node_id)
        if histogram is not None:
            try:
                with open(options.latency_histogram, "w", encoding="ascii") as f:
                    f.write(histogram.csv())
            except OSError as e:
                logging.getLogger("kraft.server").error("Cannot write the latency histogram to %s: %s",
                                                        options.latency_histogram, e.strerror or e)
                return 1
        return 0
    finally:
        await manager.close()


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = build_parser()
    options = parser.parse_args(argv)
    if options.standalone:
        options.config = "kraft.properties"
    if options.config is None:
        print(f"{PROG}: error: Missing configuration file. Should specify with '--config'", file=sys.stderr)
        return 1
    options.config = resolve_config(options.config)
    if options.record_size > max_record_size():
        print(f"{PROG}: error: --record-size {options.record_size} is larger than a record can be: a batch holds "
              f"at most {KRAFT_MAX_BATCH_SIZE} bytes, so a record's value at most {max_record_size()}", file=sys.stderr)
        return 1
    logging.basicConfig(level=logging.INFO, format=LOG_FORMAT, stream=sys.stderr)
    try:
        config = load_config(options.config)
        return event_loop.run(serve(options, config))
    except StartupError as e:
        print(f"{PROG}: error: {e}", file=sys.stderr)
        return 1
    except NodeIdConflictError:
        return 1  # the node has logged it, in one line
    except Exception:
        # As Kafka's fault handler: anything escaping the node stops the process with status 1.
        logging.getLogger("kraft.server").exception("Fatal error; the node stops")
        return 1


if __name__ == "__main__":
    sys.exit(main())
