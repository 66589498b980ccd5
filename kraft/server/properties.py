"""Kafka's configuration file format: ``java.util.Properties.load``.

Kafka reads ``server.properties`` with ``Properties.load(InputStream)``, so the
file is ISO-8859-1 (Latin-1) text and non-Latin-1 characters must be written
as ``\\uXXXX`` escapes.  The rules implemented here are Java's:

* a *natural line* ends at ``\\n``, ``\\r`` or ``\\r\\n``; leading white space
  (space, tab, form feed) of every natural line is skipped;
* a line whose first non-blank character is ``#`` or ``!`` is a comment; a
  comment never continues onto the next line;
* a line ending in an odd number of backslashes continues on the next natural
  line, whose leading white space is dropped (a continuation line starting
  with ``#`` is not a comment);
* the key ends at the first unescaped ``=``, ``:`` or white space; white space
  around the separator, and one ``=`` or ``:`` after white space, is skipped;
  the rest of the line is the value (trailing white space kept);
* escapes in keys and values: ``\\t \\n \\r \\f``, ``\\uXXXX`` (exactly four
  hex digits), and ``\\`` followed by any other character is that character;
* a later occurrence of a key replaces an earlier one.
"""
from __future__ import annotations

import os

from kraft.errors import KraftError

_BLANK = " \t\f"


class PropertiesError(KraftError):
    """A properties file could not be parsed (Java's malformed ``\\uxxxx``)."""


def _logical_lines(text: str):
    """Yield each logical line's raw text (escapes not yet converted)."""
    i, n = 0, len(text)
    while i < n:
        # Skip leading blanks and empty lines.
        while i < n and text[i] in _BLANK + "\r\n":
            i += 1
        if i >= n:
            return
        if text[i] in "#!":
            while i < n and text[i] not in "\r\n":
                i += 1
            continue
        parts = []
        while True:
            start = i
            while i < n and text[i] not in "\r\n":
                i += 1
            segment = text[start:i]
            # Step over the terminator (\r\n counts as one).
            if i < n:
                i += 2 if text.startswith("\r\n", i) else 1
            trailing = len(segment) - len(segment.rstrip("\\"))
            if trailing % 2 == 1:
                parts.append(segment[:-1])
                while i < n and text[i] in _BLANK:
                    i += 1
                if i >= n:
                    break
                continue
            parts.append(segment)
            break
        yield "".join(parts)


def _convert(raw: str) -> str:
    """Resolve the backslash escapes of a key or value."""
    if "\\" not in raw:
        return raw
    out = []
    i, n = 0, len(raw)
    while i < n:
        c = raw[i]
        i += 1
        if c != "\\":
            out.append(c)
            continue
        if i >= n:
            # A lone trailing backslash (only reachable at end of input).
            break
        c = raw[i]
        i += 1
        if c == "u":
            digits = raw[i:i + 4]
            if len(digits) < 4 or any(d not in "0123456789abcdefABCDEF" for d in digits):
                raise PropertiesError(f"Malformed \\uxxxx encoding: \\u{digits!s}")
            out.append(chr(int(digits, 16)))
            i += 4
        else:
            out.append({"t": "\t", "n": "\n", "r": "\r", "f": "\f"}.get(c, c))
    return "".join(out)


def _split(line: str) -> tuple[str, str]:
    """Split a logical line into its raw key and raw value."""
    n = len(line)
    key_end = n
    value_start = n
    has_separator = False
    escaped = False
    i = 0
    while i < n:
        c = line[i]
        if not escaped and c in "=:":
            key_end, value_start, has_separator = i, i + 1, True
            break
        if not escaped and c in _BLANK:
            key_end, value_start = i, i + 1
            break
        escaped = (c == "\\") and not escaped
        i += 1
    while value_start < n:
        c = line[value_start]
        if c not in _BLANK:
            if not has_separator and c in "=:":
                has_separator = True
            else:
                break
        value_start += 1
    return line[:key_end], line[value_start:]


def loads(text: str) -> dict[str, str]:
    """Parse properties text; return the keys and values in file order."""
    result: dict[str, str] = {}
    for line in _logical_lines(text):
        raw_key, raw_value = _split(line)
        key = _convert(raw_key)
        result.pop(key, None)
        result[key] = _convert(raw_value)
    return result


def load(path: str | os.PathLike) -> dict[str, str]:
    """Read a properties file as Kafka does (ISO-8859-1)."""
    with open(path, "rb") as f:
        data = f.read()
    return loads(data.decode("latin-1"))
