"""Small durable-file helpers shared by the storage modules."""
from __future__ import annotations

import os
from pathlib import Path


def fsync_dir(directory: os.PathLike | str) -> None:
    """fsync a directory so that a rename or create inside it is durable."""
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_all(fd: int, data) -> None:
    """``os.write`` until every byte of ``data`` is written."""
    view = memoryview(data).cast("B")
    while view:
        n = os.write(fd, view)
        view = view[n:]


def atomic_write(path: os.PathLike | str, data: bytes) -> None:
    """Replace ``path`` with ``data``: ``<path>.tmp``, fsync, rename, fsync dir.

    A crash at any point leaves either the old file or the new one; the temp
    file is removed whether or not the write succeeds.
    """
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        try:
            write_all(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
        fsync_dir(path.parent)
    finally:
        try:
            tmp.unlink()
        except FileNotFoundError:
            pass
