"""Running Kafka's command-line tools from the Maven jars against kraft, for the interop tests.

Every process started here is waited for with a timeout and killed if it outlives it.
"""
from __future__ import annotations

import os
import re
import socket
import subprocess
import tempfile
from pathlib import Path
from typing import Optional

from interop.kafka_jars import classpath, java

#: Kafka's tools log to the console: a silent log4j 1 configuration for 3.9, log4j2's for 4.x.
_LOG4J1 = "log4j.rootLogger=OFF\n"
_LOG4J2 = "status = error\nrootLogger.level = off\n"


def _logging_flags() -> list[str]:
    directory = Path(tempfile.gettempdir()) / f"kraft-interop-log4j-{os.getuid()}"
    directory.mkdir(exist_ok=True)
    one, two = directory / "log4j.properties", directory / "log4j2.properties"
    one.write_text(_LOG4J1)
    two.write_text(_LOG4J2)
    return [f"-Dlog4j.configuration=file:{one}", f"-Dlog4j2.configurationFile={two}"]


def tool_classpath(version: str) -> str:
    """The release's class path with one SLF4J binding (3.9.2 carries reload4j and slf4j-simple)."""
    jars = classpath(version).split(os.pathsep)
    if version.startswith("3."):
        jars = [j for j in jars if "slf4j-simple" not in Path(j).name]
    return os.pathsep.join(jars)


def run_tool(version: str, main_class: str, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    """``java -cp <Kafka version> main_class args...``; stdout and stderr as text."""
    command = [java(), "-Xshare:auto", "-XX:TieredStopAtLevel=1", "-Xmx256m", *_logging_flags(),
               "-cp", tool_classpath(version), main_class, *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout)


# ------------------------------------------------------------------ kafka-metadata-quorum output
def parse_status(text: str) -> dict[str, str]:
    """``describe --status``: ``Key:   value`` lines."""
    fields = {}
    for line in text.splitlines():
        match = re.match(r"^([A-Za-z]+):\s+(.*)$", line)
        if match:
            fields[match.group(1)] = match.group(2).strip()
    return fields


def parse_replication(text: str) -> list[dict[str, str]]:
    """``describe --replication``: the tab-separated table, one dict per row."""
    lines = [line for line in text.splitlines() if "\t" in line]
    if not lines:
        return []
    header = [cell.strip() for cell in lines[0].split("\t") if cell.strip()]
    rows = []
    for line in lines[1:]:
        cells = [cell.strip() for cell in line.split("\t")]
        rows.append(dict(zip(header, cells)))
    return rows


# ------------------------------------------------------------------ DescribeQuorum, straight from a node
def describe_quorum(port: int, topic: str, timeout: float = 10.0):
    """One DescribeQuorum v2 request to 127.0.0.1:``port`` for ``topic``-0; the decoded response."""
    from kraft.protocol.messages import DescribeQuorumRequest

    request = DescribeQuorumRequest(topics=[DescribeQuorumRequest.TopicData(
        topic_name=topic, partitions=[DescribeQuorumRequest.PartitionData(partition_index=0)])])
    return send_request(port, 55, 2, request, timeout)


def send_request(port: int, api_key: int, version: int, message, timeout: float = 10.0):
    """One request to 127.0.0.1:``port`` on a fresh connection; the decoded response message."""
    from kraft.protocol import RequestHeader, read_response, write_request

    frame = write_request(RequestHeader(request_api_key=api_key, request_api_version=version, correlation_id=1,
                                        client_id="interop-truth"), message)
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(frame)
        size = int.from_bytes(_read_exactly(s, 4), "big")
        body = _read_exactly(s, size)
    _header, response = read_response(len(body).to_bytes(4, "big") + body, api_key, version)
    return response


def _read_exactly(s: socket.socket, n: int) -> bytes:
    chunks, got = [], 0
    while got < n:
        chunk = s.recv(n - got)
        if not chunk:
            raise ConnectionError("connection closed")
        chunks.append(chunk)
        got += len(chunk)
    return b"".join(chunks)


def partition_of(response) -> Optional[object]:
    if response.error_code or len(response.topics) != 1 or len(response.topics[0].partitions) != 1:
        return None
    partition = response.topics[0].partitions[0]
    return None if partition.error_code else partition


# ------------------------------------------------------------------ Kafka's TestRaftServer
def start_kafka_test_raft_server(version: str, config: Path, directory_id: str, *args: str,
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) -> subprocess.Popen:
    """``kafka.tools.TestRaftServer`` of Kafka ``version`` (the caller stops it)."""
    command = [java(), "-XX:TieredStopAtLevel=1", "-Xmx512m", *_logging_flags(), "-cp", tool_classpath(version),
               "kafka.tools.TestRaftServer", "--config", str(config), "--replica-directory-id", directory_id, *args]
    return subprocess.Popen(command, stdout=stdout, stderr=stderr)


def stop(process: subprocess.Popen, timeout: float = 30) -> None:
    """SIGTERM, then SIGKILL if it is still there after ``timeout`` seconds."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout)


# ------------------------------------------------------------------ a real Kafka controller
def start_kafka_controller(version: str, directory: Path, port: int, cluster_id: str) -> subprocess.Popen:
    """A single-node Kafka controller quorum (``process.roles=controller``, static voter), formatted with
    Kafka's StorageTool and started with ``kafka.Kafka`` (the caller stops it)."""
    directory.mkdir(parents=True, exist_ok=True)
    config = directory / "controller.properties"
    config.write_text("\n".join([
        "process.roles=controller", "node.id=1", f"listeners=CONTROLLER://127.0.0.1:{port}",
        "controller.listener.names=CONTROLLER", f"controller.quorum.voters=1@127.0.0.1:{port}",
        f"log.dirs={directory / 'logs'}"]) + "\n")
    formatted = run_tool(version, "kafka.tools.StorageTool", "format", "-t", cluster_id, "-c", str(config))
    if formatted.returncode != 0:
        raise RuntimeError(f"Kafka {version} StorageTool format failed: {formatted.stdout}{formatted.stderr}")
    command = [java(), "-XX:TieredStopAtLevel=1", "-Xmx512m", *_logging_flags(), "-cp", tool_classpath(version),
               "kafka.Kafka", str(config)]
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
