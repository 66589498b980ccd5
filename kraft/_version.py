"""kraft's version, importable without the top-level package's ``__init__``.

Code inside kraft reads the version from here, never as ``kraft.__version__``:
when a directory named ``kraft`` (a clone of the repository, say) sits in the
current directory, Python may import *that* as a namespace package named
``kraft`` while the submodules still come from the installed library.  The
top-level package then has none of its attributes.  Importing this module in
that situation warns once, naming both directories.
"""
from __future__ import annotations

import sys
import warnings

__version__ = "0.1.0.dev0"


def _check_top_level_package() -> None:
    top = sys.modules.get("kraft")
    if top is None or getattr(top, "__file__", None) is not None:
        return
    shadow = ", ".join(str(p) for p in getattr(top, "__path__", []))
    here = __file__.rsplit("/", 1)[0] if "/" in __file__ else __file__
    warnings.warn(
        f"'import kraft' found the directory {shadow} (a namespace package, not the kraft library at {here}): "
        f"run from another directory, or rename that directory; kraft.RaftManager and friends are missing",
        RuntimeWarning, stacklevel=2)


_check_top_level_package()
