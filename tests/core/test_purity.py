"""The core does no I/O and reads no clock or global randomness: it never imports them."""
import ast
from pathlib import Path

import kraft.core

FORBIDDEN = {"socket", "asyncio", "time", "random", "os", "threading", "selectors", "subprocess"}


def imported_modules(path: Path):
    tree = ast.parse(path.read_text(), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name.split(".")[0], node.lineno
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module.split(".")[0], node.lineno


def test_core_never_imports_io_clock_or_random():
    core = Path(kraft.core.__file__).parent
    files = sorted(core.rglob("*.py"))
    assert len(files) > 5
    assert any(f.parent != core for f in files)  # the per-RPC modules in subpackages are scanned too
    offenders = [f"{f.relative_to(core)}:{line} imports {mod}" for f in files
                 for mod, line in imported_modules(f) if mod in FORBIDDEN]
    assert offenders == []


def test_the_scanner_finds_forbidden_imports(tmp_path):
    sample = tmp_path / "sample.py"
    sample.write_text("import os.path\nfrom time import monotonic\nfrom . import sibling\n")
    assert sorted(m for m, _ in imported_modules(sample)) == ["os", "time"]
