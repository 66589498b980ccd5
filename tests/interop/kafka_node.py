"""Kafka's own test server (``kafka.tools.TestRaftServer``) as a real process, for the mixed quorums.

A :class:`KafkaNode` reads the same properties keys as kraft's test server
(``node.id``, ``listeners``, ``controller.listener.names``,
``controller.quorum.voters``, ``log.dirs``) and takes ``--replica-directory-id``.
Its log (stderr) and its summary lines (stdout) are collected line by line in
one stream so a test can wait for a leader change, a first commit or an error.

Logging: 3.9 ships two SLF4J bindings on the resolved classpath (reload4j and
the slf4j-simple that ``pom.xml`` adds); the node drops slf4j-simple and gives
reload4j a small console config.  4.4 has no log4j 1 binding: its lines go
through slf4j-simple, configured by system properties.

The JVM is started small and quick (256 MiB heap, C1 only, class-data sharing
when available).  Every process is killed by :meth:`KafkaNode.kill` (the
quorum helpers call it on teardown).
"""
from __future__ import annotations

import base64
import os
import re
import signal
import subprocess
import uuid
from pathlib import Path
from typing import Optional

from kafka_jars import classpath, java

MAIN_CLASS = "kafka.tools.TestRaftServer"

_LOG4J_PROPERTIES = """\
log4j.rootLogger=INFO, stderr
log4j.appender.stderr=org.apache.log4j.ConsoleAppender
log4j.appender.stderr.Target=System.err
log4j.appender.stderr.layout=org.apache.log4j.PatternLayout
log4j.appender.stderr.layout.ConversionPattern=[%d] %p %m (%c)%n
"""

JVM_OPTIONS = ("-Xmx256m", "-Xms64m", "-XX:TieredStopAtLevel=1", "-Xshare:auto", "-XX:+UseSerialGC",
               "-Djava.net.preferIPv4Stack=true")


def new_directory_id() -> str:
    """A random directory id in Kafka's text form (22 characters of URL-safe base64, no padding)."""
    while True:
        raw = uuid.uuid4().bytes
        text = base64.urlsafe_b64encode(raw).decode().rstrip("=")
        if not text.startswith("-"):  # Kafka's Uuid.randomUuid avoids ids that look like options
            return text


def uses_log4j1(version: str) -> bool:
    return version.startswith(("2.", "3."))


def kafka_classpath(version: str) -> str:
    """The resolved jars of ``version`` with one SLF4J binding left."""
    jars = classpath(version).split(os.pathsep)
    if uses_log4j1(version):
        jars = [j for j in jars if not Path(j).name.startswith("slf4j-simple")]
    return os.pathsep.join(jars)


def kafka_command(version: str, config: Path, directory_id: str, work_dir: Path,
                  throughput: Optional[int] = None) -> list[str]:
    """``java ... kafka.tools.TestRaftServer --config FILE --replica-directory-id ID``."""
    command = [java() or "java", *JVM_OPTIONS]
    if uses_log4j1(version):
        log4j = work_dir / "kafka-log4j.properties"
        log4j.write_text(_LOG4J_PROPERTIES)
        command.append(f"-Dlog4j.configuration=file:{log4j}")
    else:
        command += ["-Dorg.slf4j.simpleLogger.defaultLogLevel=info",
                    "-Dorg.slf4j.simpleLogger.showDateTime=true",
                    "-Dorg.slf4j.simpleLogger.logFile=System.err"]
    command += ["-cp", kafka_classpath(version), MAIN_CLASS, "--config", str(config),
                "--replica-directory-id", directory_id]
    if throughput is not None:
        command += ["--throughput", str(throughput)]  # honoured from Kafka 4.2 on, ignored before
    return command


# What a Kafka node's log says (3.9.2 and 4.4.0 wording).
KAFKA_LEADER = re.compile(r"Completed transition to Leader\(.*?\bepoch=(\d+), epochStartOffset=")
KAFKA_FOLLOWER = re.compile(r"Completed transition to FollowerState\(fetchTimeoutMs=\d+, epoch=(\d+), leader=(\d+)")
KAFKA_FIRST_COMMIT = re.compile(r"High watermark set to LogOffsetMetadata\(offset=(\d+),.*for the first time for epoch (\d+)")
KAFKA_FOLLOWER_HIGH_WATERMARK = re.compile(
    r"High watermark set to Optional\[LogOffsetMetadata\(offset=(\d+),.*for the first time for epoch (\d+)")


def terminate(process: subprocess.Popen, timeout: float = 30) -> Optional[int]:
    """SIGTERM, wait; SIGKILL if it does not exit in time.  Returns the exit status."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            return process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
    return process.wait(30)
