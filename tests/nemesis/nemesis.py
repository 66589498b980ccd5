"""The nemesis harness: a quorum of writer processes behind link proxies, faults, and the checker.

:class:`NemesisQuorum` starts three :mod:`writer_node` processes (kraft.RaftManager
voters), each reaching every other node through its own :class:`~proxy.LinkProxy`,
so any directed link can be cut.  :meth:`NemesisQuorum.run_nemesis` injects
faults for a while (SIGKILL and restart of a node, a node cut off from the
others, single links dropped or black-holed), at most one node disturbed at a
time; then every link is healed, every node restarted, the quorum left to catch
up, and the nodes stopped.  :func:`check` reads every node's log directory with
kraft's storage code and verifies every acknowledged record.
"""
from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

from proxy import BLACKHOLED, DROPPED, UP, Proxies
from tools.quorum_util import free_ports

WRITER = Path(__file__).with_name("writer_node.py")
TOPIC_DIR = "__raft_performance_test-0"


class WriterProcess:
    def __init__(self, node_id: int, config: Path, ack_file: Path, log_file: Path):
        self.node_id = node_id
        self.config = config
        self.ack_file = ack_file
        self.log_file = log_file
        self.process: Optional[subprocess.Popen] = None
        self.committed = 0
        self._thread: Optional[threading.Thread] = None

    def start(self) -> None:
        self.quiesced = self.started = False
        self.committed = 0
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        with open(self.log_file, "a") as err:
            self.process = subprocess.Popen([sys.executable, str(WRITER), str(self.config), str(self.ack_file)],
                                            stdout=subprocess.PIPE, stderr=err, text=True, env=env)
        self._thread = threading.Thread(target=self._read, args=(self.process.stdout,), daemon=True)
        self._thread.start()

    def _read(self, stream) -> None:
        for line in stream:
            if line.startswith("COMMITTED "):
                self.committed = max(self.committed, int(line.split()[1]))
            elif line.startswith("STARTED"):
                self.started = True
            elif line.startswith("QUIESCED"):
                self.quiesced = True

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def kill(self) -> None:
        if self.running:
            self.process.kill()
            self.process.wait(30)

    def stop(self, timeout: float = 30) -> Optional[int]:
        if self.running:
            self.process.send_signal(signal.SIGTERM)
            try:
                return self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill()
                return None
        return self.process.returncode if self.process else None


@dataclass
class Events:
    kills: int = 0
    isolations: int = 0
    link_cuts: int = 0
    log: list = field(default_factory=list)


class NemesisQuorum:
    def __init__(self, directory: Path, size: int = 3, seed: Optional[int] = None):
        self.directory = directory
        self.node_ids = list(range(1, size + 1))
        ports = dict(zip(self.node_ids, free_ports(size)))
        self.proxies = Proxies(ports)
        self.rng = random.Random(seed)
        self.events = Events()
        self.nodes: dict[int, WriterProcess] = {}
        self.log_dirs: dict[int, Path] = {}
        for node_id in self.node_ids:
            voters = ",".join(f"{other}@127.0.0.1:{ports[other] if other == node_id else self.proxies.port(node_id, other)}"
                              for other in self.node_ids)
            self.log_dirs[node_id] = directory / f"logs-{node_id}"
            config = directory / f"node-{node_id}.properties"
            config.write_text("\n".join([
                f"node.id={node_id}", f"listeners=CONTROLLER://127.0.0.1:{ports[node_id]}",
                "controller.listener.names=CONTROLLER", f"controller.quorum.voters={voters}",
                f"log.dirs={self.log_dirs[node_id]}",
            ]) + "\n")
            self.nodes[node_id] = WriterProcess(node_id, config, directory / f"acks-{node_id}.txt",
                                                directory / f"node-{node_id}.log")

    def start(self) -> None:
        for node in self.nodes.values():
            node.start()

    def _note(self, text: str) -> None:
        self.events.log.append(f"{time.strftime('%H:%M:%S')} {text}")

    def _isolate(self, node_id: int, state: str) -> None:
        for other in self.node_ids:
            if other != node_id:
                self.proxies.set(node_id, other, state)
                self.proxies.set(other, node_id, state)

    def run_nemesis(self, seconds: float) -> None:
        """Faults for ``seconds``: every 1-3 s one of a kill, an isolation or a link cut (each kind
        once per round of three, in a random order), undone 1-3 s later."""
        deadline = time.monotonic() + seconds
        kinds: list[str] = []
        while time.monotonic() < deadline:
            time.sleep(self.rng.uniform(1, 3))
            if not kinds:               # every kind of fault once per round, in a random order
                kinds = ["kill", "isolate", "cut"]
                self.rng.shuffle(kinds)
            fault = kinds.pop()
            victim = self.rng.choice(self.node_ids)
            hold = self.rng.uniform(1, 3)
            if fault == "kill":
                self._note(f"SIGKILL node {victim}")
                self.events.kills += 1
                self.nodes[victim].kill()
                time.sleep(hold)
                self._note(f"restart node {victim}")
                self.nodes[victim].start()
            elif fault == "isolate":
                state = self.rng.choice([DROPPED, BLACKHOLED])
                self._note(f"isolate node {victim} ({state})")
                self.events.isolations += 1
                self._isolate(victim, state)
                time.sleep(hold)
                self._isolate(victim, UP)
                self._note(f"heal node {victim}")
            else:
                other = self.rng.choice([n for n in self.node_ids if n != victim])
                state = self.rng.choice([DROPPED, BLACKHOLED])
                self._note(f"cut link {victim}->{other} ({state})")
                self.events.link_cuts += 1
                self.proxies.set(victim, other, state)
                time.sleep(hold)
                self.proxies.set(victim, other, UP)
                self._note(f"heal link {victim}->{other}")

    def settle_and_stop(self, timeout: float = 60) -> int:
        """Heal everything, restart dead nodes, wait until every node has been handed every
        acknowledged record, stop them all; the highest acknowledged offset + 1."""
        self.proxies.heal()
        for node in self.nodes.values():
            if not node.running:
                node.start()
        deadline = time.monotonic() + timeout
        # let the healed quorum commit again, then stop the writing everywhere
        start = max(read_acks(self).values(), default=-1)
        while time.monotonic() < deadline and max(read_acks(self).values(), default=-1) <= start:
            time.sleep(0.2)
        while time.monotonic() < deadline and not all(node.started for node in self.nodes.values()):
            time.sleep(0.1)        # (SIGUSR1 would kill a node still starting)
        for node in self.nodes.values():
            node.process.send_signal(signal.SIGUSR1)
        while time.monotonic() < deadline and not all(node.quiesced for node in self.nodes.values()):
            time.sleep(0.1)
        # every node must be handed every acknowledged record before it is stopped
        target = max(read_acks(self).values(), default=-1) + 1
        while time.monotonic() < deadline and not all(node.committed >= target for node in self.nodes.values()):
            time.sleep(0.1)
        self._note(f"settled: acknowledged up to {target}, nodes handed "
                   f"{ {n.node_id: n.committed for n in self.nodes.values()} }")
        for node in self.nodes.values():
            node.stop()
        return target

    def close(self) -> None:
        for node in self.nodes.values():
            node.kill()
        self.proxies.close()

    def diagnostics(self) -> str:
        out = ["events:"] + self.events.log[-40:]
        for node in self.nodes.values():
            if node.log_file.exists():
                lines = node.log_file.read_text().splitlines()
                out.append(f"--- node {node.node_id} (last 20 lines of stderr)")
                out.extend(lines[-20:])
        return "\n".join(out)


def read_acks(quorum: NemesisQuorum) -> dict[bytes, int]:
    """Every acknowledged value -> the offset its append returned (a value is acknowledged once)."""
    acked: dict[bytes, int] = {}
    for node in quorum.nodes.values():
        if not node.ack_file.exists():
            continue
        for line in node.ack_file.read_bytes().splitlines():
            parts = line.split()
            if len(parts) != 2:
                continue          # a line cut by SIGKILL is not an acknowledgement
            value, offset = parts[0], int(parts[1])
            assert value not in acked, f"value {value!r} acknowledged twice"
            acked[value] = offset
    return acked


def read_log(partition_dir: Path) -> dict[int, bytes]:
    """offset -> value of every data record in a stopped node's log (kraft's storage code)."""
    from kraft.records import decode_batches
    from kraft.storage.replicated_log import FileReplicatedLog

    log = FileReplicatedLog.open(partition_dir)
    try:
        assert log.start_offset == 0, f"{partition_dir}: log starts at {log.start_offset}"
        records: dict[int, bytes] = {}
        offset = 0
        while offset < log.end_offset:
            for batch in decode_batches(log.read(offset, 1 << 20).records):
                assert batch.base_offset == offset, f"{partition_dir}: gap at {offset}"
                if not batch.is_control:
                    for i, record in enumerate(batch):
                        records[batch.base_offset + i] = bytes(record.value)
                offset = batch.last_offset + 1
        return records
    finally:
        log.close()


def check(quorum: NemesisQuorum, committed_end: int) -> dict:
    """Every acknowledged record is on every node exactly once, at the offset acknowledged, and
    the nodes' logs agree on every offset below ``committed_end``.  Returns counts."""
    acked = read_acks(quorum)
    logs = {node_id: read_log(quorum.log_dirs[node_id] / TOPIC_DIR) for node_id in quorum.node_ids}
    problems = []
    for node_id, records in logs.items():
        where: dict[bytes, list[int]] = {}
        for offset, value in records.items():
            where.setdefault(value, []).append(offset)
        duplicated = {v: o for v, o in where.items() if len(o) > 1}
        if duplicated:
            problems.append(f"node {node_id}: values at several offsets: {list(duplicated.items())[:5]}")
        for value, offset in acked.items():
            found = where.get(value)
            if found != [offset]:
                problems.append(f"node {node_id}: acknowledged {value!r} at {offset}, found at {found}")
    reference = logs[quorum.node_ids[0]]
    for node_id, records in logs.items():
        for offset in range(committed_end):
            if records.get(offset) != reference.get(offset):
                problems.append(f"nodes {quorum.node_ids[0]} and {node_id} disagree at offset {offset}: "
                                f"{reference.get(offset)!r} / {records.get(offset)!r}")
                break
    assert not problems, "\n".join(problems[:20])
    return {"acknowledged": len(acked), "records": {n: len(r) for n, r in logs.items()}}
