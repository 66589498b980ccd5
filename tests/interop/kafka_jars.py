"""Apache Kafka from Maven Central, for the live interoperability tests.

``pom.xml`` beside this file names what to resolve (the server module, the
tools and a logging binding); Maven copies the jars with all their
dependencies into a cache directory, one per version:

* ``$KRAFT_KAFKA_CACHE/kafka-<version>`` when ``KRAFT_KAFKA_CACHE`` is set,
* ``~/.cache/kraft/kafka-<version>`` otherwise.

A version whose directory already holds its server jar is not resolved again,
so a second run downloads nothing.  ``python tests/interop/kafka_jars.py``
resolves every version the tests use (``.ci/run`` calls it).

Nothing fetched is committed: the jars live only in the cache.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Optional

#: The Kafka releases the live tests run against: the newest 3.9 and 4.4.0.
KAFKA_VERSIONS = ("3.9.2", "4.4.0")

POM = Path(__file__).resolve().parent / "pom.xml"


class KafkaUnavailable(RuntimeError):
    """Java, Maven or the jars cannot be had on this machine."""


def cache_dir(version: str) -> Path:
    base = os.environ.get("KRAFT_KAFKA_CACHE")
    root = Path(base) if base else Path.home() / ".cache" / "kraft"
    return root / f"kafka-{version}"


def java() -> Optional[str]:
    """The ``java`` to run Kafka with: ``$JAVA_HOME/bin/java`` or the one on PATH."""
    home = os.environ.get("JAVA_HOME")
    if home and (Path(home) / "bin" / "java").is_file():
        return str(Path(home) / "bin" / "java")
    return shutil.which("java")


def _server_jar(directory: Path, version: str) -> Path:
    return directory / f"kafka_2.13-{version}.jar"


def ensure_jars(version: str, timeout: float = 900) -> Path:
    """The cache directory of ``version``, resolving it with Maven if needed."""
    directory = cache_dir(version)
    if _server_jar(directory, version).is_file():
        return directory
    mvn = shutil.which("mvn")
    if mvn is None:
        raise KafkaUnavailable(f"Kafka {version} is not in {directory} and Maven (mvn) is not installed")
    partial = directory.with_name(directory.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    command = [mvn, "-q", "-B", "-f", str(POM), f"-Dkafka.version={version}",
               "dependency:copy-dependencies", f"-DoutputDirectory={partial}"]
    result = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
    if result.returncode != 0 or not _server_jar(partial, version).is_file():
        tail = (result.stdout + result.stderr).strip().splitlines()[-5:]
        raise KafkaUnavailable(f"Maven could not resolve Kafka {version}: " + " | ".join(tail))
    shutil.rmtree(directory, ignore_errors=True)
    partial.rename(directory)
    return directory


def classpath(version: str) -> str:
    """Every jar of ``version`` joined for ``java -cp``."""
    directory = ensure_jars(version)
    return os.pathsep.join(sorted(str(p) for p in directory.glob("*.jar")))


def availability(version: str) -> Optional[str]:
    """None when Kafka ``version`` can run here, else the reason it cannot."""
    if java() is None:
        return "Java is not installed (apt-get install openjdk-17-jre-headless)"
    try:
        ensure_jars(version)
    except (KafkaUnavailable, OSError, subprocess.SubprocessError) as e:
        return str(e)
    return None


def main(argv: list[str]) -> int:
    versions = argv or list(KAFKA_VERSIONS)
    for version in versions:
        try:
            print(f"Kafka {version}: {ensure_jars(version)}")
        except KafkaUnavailable as e:
            print(f"Kafka {version}: {e}", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
