"""Kafka's Uuid text form and invariants."""
import pytest

from kraft.protocol import Uuid


def test_text_form_is_url_safe_base64_without_padding():
    u = Uuid(bytes(range(250, 256)) + bytes(10))
    text = str(u)
    assert len(text) == 22 and "=" not in text and "+" not in text and "/" not in text
    assert Uuid.from_string(text) == u
    assert str(Uuid.ZERO) == "AAAAAAAAAAAAAAAAAAAAAA"
    assert str(Uuid.METADATA_TOPIC_ID) == "AAAAAAAAAAAAAAAAAAAAAQ"


@pytest.mark.parametrize("text", ["", "abc", "A" * 25, "AAAAAAAAAAAAAAAAAAAA!A", "AAAAAAAAAAAAAAAAAAAAAAAA", 7])
def test_bad_text_is_rejected(text):
    with pytest.raises(ValueError):
        Uuid.from_string(text)


def test_bits_and_bytes():
    u = Uuid.from_bits(-1, 1)
    assert u.bytes == b"\xff" * 8 + b"\x00" * 7 + b"\x01"
    assert (u.most_significant_bits, u.least_significant_bits) == (-1, 1)
    with pytest.raises(ValueError):
        Uuid(b"short")


def test_random_ids_avoid_reserved_values_and_are_immutable_and_hashable():
    ids = {Uuid.random() for _ in range(200)}
    assert len(ids) == 200
    for u in ids:
        assert u not in (Uuid.ZERO, Uuid.METADATA_TOPIC_ID) and not str(u).startswith("-")
    u = next(iter(ids))
    with pytest.raises(AttributeError):
        u.x = 1
    assert {u: 1}[Uuid(u.bytes)] == 1
    assert eval(repr(u), {"Uuid": Uuid}) == u
