"""The properties parser against java.util.Properties.load semantics."""
from __future__ import annotations

import pytest
from hypothesis import given, strategies as st

from kraft.server.properties import PropertiesError, load, loads


@pytest.mark.parametrize(
    "text, expected",
    [
        ("a=b", {"a": "b"}),
        ("a:b", {"a": "b"}),
        ("a b", {"a": "b"}),
        ("a\tb", {"a": "b"}),
        ("a\fb", {"a": "b"}),
        ("a = b", {"a": "b"}),
        ("a : b", {"a": "b"}),
        # Only one separator is swallowed after white space.
        ("a = = b", {"a": "= b"}),
        ("a == b", {"a": "= b"}),
        ("a := b", {"a": "= b"}),
        # Trailing white space of a value is kept, leading is not.
        ("  a=b  ", {"a": "b  "}),
        ("a", {"a": ""}),
        ("a=", {"a": ""}),
        ("=b", {"": "b"}),
        ("a=b=c", {"a": "b=c"}),
        ("a=b:c", {"a": "b:c"}),
        # Comments: # and ! at the first non-blank position only.
        ("# a=b\nc=d", {"c": "d"}),
        ("  ! a=b\nc=d", {"c": "d"}),
        ("c=d # not a comment", {"c": "d # not a comment"}),
        # A comment line ending in a backslash does not continue.
        ("# comment \\\nc=d", {"c": "d"}),
        # Blank lines and all three line terminators.
        ("\n\n  \t\na=1\r\nb=2\rc=3\n", {"a": "1", "b": "2", "c": "3"}),
        # Continuation lines drop the next line's leading blanks.
        ("a=one \\\n    two", {"a": "one two"}),
        ("a=one\\\r\n  two\\\r  three", {"a": "onetwothree"}),
        # Continued line starting with # is not a comment.
        ("a=x\\\n  #y", {"a": "x#y"}),
        # Continuation into an empty line ends the logical line.
        ("a=x\\\n\nb=y", {"a": "x", "b": "y"}),
        # Backslash at end of input is dropped.
        ("a=x\\", {"a": "x"}),
        # An even number of backslashes is an escaped backslash, no continuation.
        ("a=x\\\\\nb=y", {"a": "x\\", "b": "y"}),
        ("a=x\\\\\\\n y", {"a": "x\\y"}),
        # Escapes.
        ("a=\\t\\n\\r\\f", {"a": "\t\n\r\f"}),
        ("a=\\u0041\\u00e9\\u20AC", {"a": "Aé€"}),
        ("a=\\q\\=\\:\\ ", {"a": "q=: "}),
        ("k\\ ey=v", {"k ey": "v"}),
        ("k\\=ey=v", {"k=ey": "v"}),
        ("k\\:ey:v", {"k:ey": "v"}),
        ("\\#k=v", {"#k": "v"}),
        # Last occurrence wins.
        ("a=1\nb=2\na=3", {"a": "3", "b": "2"}),
        ("", {}),
    ],
)
def test_java_semantics(text, expected):
    assert loads(text) == expected


def test_last_occurrence_moves_to_end_of_order():
    assert list(loads("a=1\nb=2\na=3")) == ["b", "a"]


@pytest.mark.parametrize("text", ["a=\\u12", "a=\\u12G4", "a=\\uzzzz", "\\u=1"])
def test_malformed_unicode_escape(text):
    with pytest.raises(PropertiesError, match="Malformed"):
        loads(text)


def test_file_is_latin1(tmp_path):
    path = tmp_path / "x.properties"
    path.write_bytes(b"name=caf\xe9\nunicode=\\u00e9\n")
    assert load(path) == {"name": "café", "unicode": "é"}


def _escape(s: str, is_key: bool) -> str:
    """What Properties.store writes for a key or value."""
    out = []
    for i, c in enumerate(s):
        if c == " " and (is_key or i == 0):
            out.append("\\ ")
        elif c in "\\=:#!":
            out.append("\\" + c)
        elif c in "\t\n\r\f":
            out.append({"\t": "\\t", "\n": "\\n", "\r": "\\r", "\f": "\\f"}[c])
        elif ord(c) < 0x20 or ord(c) > 0x7E:
            out.append("\\u%04X" % ord(c))
        else:
            out.append(c)
    return "".join(out)


_text = st.text(st.characters(max_codepoint=0xFFFF, exclude_categories=("Cs",)), max_size=20)


@given(st.dictionaries(_text, _text, max_size=8), st.sampled_from(["=", ":", " ", " = ", "\t:"]),
       st.sampled_from(["\n", "\r\n", "\r"]))
def test_round_trip_of_stored_properties(mapping, separator, newline):
    # A blank separator after an empty key would make a blank line, so Java's
    # store always writes "=".
    text = "#header\n" + "".join(
        _escape(k, True) + (separator if k or separator.strip() else "=") + _escape(v, False) + newline
        for k, v in mapping.items())
    assert loads(text) == mapping


@given(st.text(max_size=200))
def test_any_text_parses_or_raises_properties_error(text):
    try:
        result = loads(text)
    except PropertiesError:
        return
    assert all(isinstance(k, str) and isinstance(v, str) for k, v in result.items())
