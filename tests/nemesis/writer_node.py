"""One node of the nemesis quorum: a kraft.RaftManager voter that writes while it leads.

    python writer_node.py CONFIG ACK_FILE

While this node leads, a few writer coroutines append unique values
(``<node>-<pid>-<writer>-<seq>``), one record per append, and append a line
``VALUE OFFSET`` to ACK_FILE (O_APPEND, one write per line) for every append
that returned: an acknowledged record.  A value whose append failed or whose
outcome is unknown is never written again and never recorded.  Every 0.2 s the
node prints ``COMMITTED <offset>`` (its listener's last committed offset + 1)
when it changed.  SIGUSR1 stops the writing (each append in flight is
awaited) and then prints ``QUIESCED``; SIGTERM closes the node as an
application would.
"""
from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys

import kraft

WRITERS = 4


class Committed:
    """A listener that remembers the end of the committed records it was handed."""

    def __init__(self):
        self.end = 0

    def handle_commit(self, batches):
        for batch in batches:
            self.end = max(self.end, batch.last_offset + 1)

    def handle_load_snapshot(self, snapshot):
        pass

    def handle_leader_change(self, leader):
        pass

    def begin_shutdown(self):
        pass


async def writer(node, index: int, ack_fd: int, stop: asyncio.Event):
    seq = 0
    prefix = f"{node.node_id}-{os.getpid()}-{index}"
    while not stop.is_set():
        if not node.is_leader:
            await asyncio.sleep(0.05)
            continue
        value = f"{prefix}-{seq}"
        seq += 1
        try:
            offset = await asyncio.wait_for(node.append([value.encode()]), 10)
        except (kraft.NotLeaderError, kraft.AppendLostError, asyncio.TimeoutError):
            await asyncio.sleep(0.02)
            continue
        except Exception as e:  # noqa: BLE001 - report, keep writing
            print(f"append failed: {type(e).__name__}: {e}", file=sys.stderr, flush=True)
            await asyncio.sleep(0.05)
            continue
        os.write(ack_fd, f"{value} {offset}\n".encode())


async def main(config_path: str, ack_path: str) -> None:
    ack_fd = os.open(ack_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    stop = asyncio.Event()
    quiesce = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop.add_signal_handler(signal.SIGUSR1, quiesce.set)
    committed = Committed()
    async with kraft.RaftManager(config_path, shutdown_timeout=5) as node:
        node.register(committed)
        print("STARTED", flush=True)
        tasks = [loop.create_task(writer(node, i, ack_fd, quiesce)) for i in range(WRITERS)]
        last = -1
        quiesced = False
        while not stop.is_set():
            if quiesce.is_set() and not quiesced and all(task.done() for task in tasks):
                quiesced = True
                print("QUIESCED", flush=True)
            if committed.end != last:
                last = committed.end
                print(f"COMMITTED {last}", flush=True)
            try:
                await asyncio.wait_for(stop.wait(), 0.2)
            except asyncio.TimeoutError:
                pass
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    os.close(ack_fd)


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="[%(asctime)s] %(levelname)s %(message)s (%(name)s)")
    asyncio.run(main(sys.argv[1], sys.argv[2]))
