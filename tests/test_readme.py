"""The README's snippets run as written: every fenced python block marked runnable (an HTML comment
``<!-- runnable ... -->`` on the line before it) is run on its own, in a fresh interpreter, in an
empty temporary directory (TMPDIR too)."""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
_BLOCK = re.compile(r"^<!-- runnable\b[^\n]*-->\n```python\n(.*?)^```$", re.M | re.S)


def runnable_blocks(text: str) -> list[tuple[int, str]]:
    """(line number, code) of every block marked runnable."""
    return [(text.count("\n", 0, m.start()) + 2, m.group(1)) for m in _BLOCK.finditer(text)]


BLOCKS = runnable_blocks(README.read_text(encoding="utf-8"))


def test_the_readme_marks_its_library_snippets_runnable():
    assert len(BLOCKS) >= 3, "the records and storage snippets are marked <!-- runnable -->"
    assert any("encode_control_batch" in code for _, code in BLOCKS)
    assert any("append_as_leader" in code for _, code in BLOCKS)


@pytest.mark.parametrize("line, code", BLOCKS, ids=[f"README.md:{line}" for line, _ in BLOCKS])
def test_readme_snippet_runs(tmp_path, line, code):
    env = dict(os.environ, TMPDIR=str(tmp_path))
    env.pop("PYTHONPATH", None)
    result = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, f"README.md line {line}:\n{result.stderr}"
