"""Regenerate the golden protocol vectors of one Kafka release from its Maven jars.

    python tests/interop/vectors/regenerate.py --kafka 4.4.0 --out tests/data/vectors/kafka-4.4

compiles ``GenerateVectors.java`` (beside this file) with ``javac`` against the
release's class path (``tests/interop/kafka_jars.py`` resolves it into
~/.cache/kraft), runs it and writes ``messages.jsonl`` into ``--out``.  The
class files go to a temporary directory and are never kept.  Where there is
no ``javac`` (a JRE only, as CI installs), Java's source-file launcher
compiles it in memory instead.  Generation is deterministic: running it twice
gives the same bytes.
"""
from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Optional

HERE = Path(__file__).resolve().parent
SOURCE = HERE / "GenerateVectors.java"
sys.path.insert(0, str(HERE.parent))

from kafka_jars import KAFKA_VERSIONS, classpath, java  # noqa: E402


class GenerationError(RuntimeError):
    pass


def javac() -> Optional[str]:
    """``javac`` next to the ``java`` the tests run, else the one on PATH, else None."""
    runtime = java()
    if runtime:
        sibling = Path(runtime).with_name("javac")
        if sibling.is_file():
            return str(sibling)
    return shutil.which("javac")


def generate(version: str, timeout: float = 120, use_javac: bool = True) -> bytes:
    """The ``messages.jsonl`` bytes Kafka ``version`` produces."""
    if java() is None:
        raise GenerationError("Java is not installed")
    cp = classpath(version)
    compiler = javac() if use_javac else None
    with tempfile.TemporaryDirectory(prefix="kraft-vectors-") as classes:
        if compiler is not None:
            compiled = subprocess.run([compiler, "-nowarn", "-encoding", "UTF-8", "-cp", cp, "-d", classes,
                                       str(SOURCE)], capture_output=True, text=True, timeout=timeout)
            if compiled.returncode != 0:
                raise GenerationError(f"javac failed for Kafka {version}:\n{compiled.stderr.strip()}")
            command = [java(), "-cp", cp + os.pathsep + classes, "GenerateVectors"]
        else:   # the source-file launcher (JEP 330): compiled in memory, nothing written
            command = [java(), "-cp", cp, "-Dfile.encoding=UTF-8", str(SOURCE)]
        run = subprocess.run(command, capture_output=True, timeout=timeout)
        if run.returncode != 0:
            raise GenerationError(f"GenerateVectors failed for Kafka {version}:\n"
                                  + run.stderr.decode("utf-8", "replace").strip())
        return run.stdout


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--kafka", required=True, choices=KAFKA_VERSIONS, help="the Kafka release")
    parser.add_argument("--out", required=True, type=Path, help="directory to write messages.jsonl into")
    args = parser.parse_args(argv)
    try:
        data = generate(args.kafka)
    except GenerationError as e:
        print(e, file=sys.stderr)
        return 1
    args.out.mkdir(parents=True, exist_ok=True)
    target = args.out / "messages.jsonl"
    target.write_bytes(data)
    lines = data.count(b"\n")
    print(f"{target}: {lines} lines from Kafka {args.kafka}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
