"""Kafka's Uuid: 16 bytes, shown as URL-safe base64 without padding."""
from __future__ import annotations

import base64
import binascii
import os


class Uuid:
    """An immutable 128-bit id, Kafka's ``org.apache.kafka.common.Uuid``.

    Build from 16 bytes or from the text form.  ``str(u)`` is Kafka's text form (22 characters of URL-safe base64, no
    padding); :meth:`from_string` parses it back.  ``Uuid.ZERO`` (all zero
    bytes) means "no id".
    """

    __slots__ = ("_bytes",)

    ZERO: "Uuid"
    METADATA_TOPIC_ID: "Uuid"

    def __init__(self, value: "bytes | bytearray | memoryview | str"):
        if isinstance(value, str):
            value = Uuid.from_string(value)._bytes
        value = bytes(value)
        if len(value) != 16:
            raise ValueError(f"a Uuid is 16 bytes, got {len(value)}")
        _set_bytes(self, value)

    @classmethod
    def _of(cls, value: bytes) -> "Uuid":
        u = _new(cls)
        _set_bytes(u, value)
        return u

    @classmethod
    def from_string(cls, text: str) -> "Uuid":
        """Parse Kafka's base64 text form; raise ``ValueError`` if it is not 16 bytes of URL-safe base64."""
        if not isinstance(text, str) or len(text) > 24:
            raise ValueError(f"not a Kafka Uuid string: {text!r}")
        padded = text + "=" * (-len(text) % 4)
        try:
            raw = base64.b64decode(padded.encode("ascii"), altchars=b"-_", validate=True)
        except (binascii.Error, UnicodeEncodeError):
            raise ValueError(f"not a Kafka Uuid string: {text!r}") from None
        if len(raw) != 16:
            raise ValueError(f"not a Kafka Uuid string: {text!r} decodes to {len(raw)} bytes")
        return cls._of(raw)

    @classmethod
    def from_bits(cls, most_significant: int, least_significant: int) -> "Uuid":
        """Build from the two signed or unsigned 64-bit halves, as Kafka's constructor takes them."""
        msb = most_significant & 0xFFFFFFFFFFFFFFFF
        lsb = least_significant & 0xFFFFFFFFFFFFFFFF
        return cls._of(msb.to_bytes(8, "big") + lsb.to_bytes(8, "big"))

    @classmethod
    def random(cls) -> "Uuid":
        """A random (version 4) id that, like Kafka's ``randomUuid``, is never ZERO or
        METADATA_TOPIC_ID and whose text form never starts with ``-``."""
        while True:
            raw = bytearray(os.urandom(16))
            raw[6] = (raw[6] & 0x0F) | 0x40
            raw[8] = (raw[8] & 0x3F) | 0x80
            u = cls._of(bytes(raw))
            if u != cls.ZERO and u != cls.METADATA_TOPIC_ID and not str(u).startswith("-"):
                return u

    @property
    def bytes(self) -> bytes:
        return self._bytes

    @property
    def most_significant_bits(self) -> int:
        """The first 8 bytes as a signed 64-bit integer (Kafka's ``getMostSignificantBits``)."""
        return int.from_bytes(self._bytes[:8], "big", signed=True)

    @property
    def least_significant_bits(self) -> int:
        """The last 8 bytes as a signed 64-bit integer."""
        return int.from_bytes(self._bytes[8:], "big", signed=True)

    def __setattr__(self, name, value):
        raise AttributeError("Uuid is immutable")

    def __bytes__(self):
        return self._bytes

    def __str__(self):
        return base64.urlsafe_b64encode(self._bytes).decode("ascii").rstrip("=")

    def __repr__(self):
        return f"Uuid('{self}')"

    def __eq__(self, other):
        if isinstance(other, Uuid):
            return self._bytes == other._bytes
        return NotImplemented

    def __hash__(self):
        return hash(self._bytes)

    def __reduce__(self):
        return (Uuid, (self._bytes,))


_new = object.__new__
_set_bytes = Uuid._bytes.__set__

Uuid.ZERO = Uuid(bytes(16))
Uuid.METADATA_TOPIC_ID = Uuid.from_bits(0, 1)
