"""Declaration types for Kafka message schemas: versions, fields, structs, messages.

A schema is plain data: :class:`MessageSchema` holds :class:`Field` rows (and
optionally shared :class:`StructSchema` types), written in Kafka's own
vocabulary (``"int32"``, ``"[]Voter"``, ``"0-12"``, ``"3+"``).  The codec
(:mod:`kraft.protocol.codec`) turns a schema into message classes and
compiles one encoder/decoder per (struct, version).
"""
from __future__ import annotations

import re

PRIMITIVE_TYPES = frozenset({
    "bool", "int8", "int16", "uint16", "int32", "uint32", "int64", "float64",
    "string", "bytes", "records", "uuid",
})


class Versions:
    """An inclusive range of versions written the Kafka way: ``"0+"``, ``"1-3"``, ``"2"``, ``"none"``."""

    __slots__ = ("low", "high")

    MAX = 0x7FFF

    def __init__(self, low: int, high: int):
        self.low = low
        self.high = high

    @classmethod
    def parse(cls, text: str | None) -> "Versions":
        if text is None or text == "none":
            return cls(1, 0)
        text = text.strip()
        if text.endswith("+"):
            return cls(int(text[:-1]), cls.MAX)
        if "-" in text:
            low, high = text.split("-")
            return cls(int(low), int(high))
        return cls(int(text), int(text))

    @property
    def empty(self) -> bool:
        return self.low > self.high

    def __contains__(self, version: int) -> bool:
        return self.low <= version <= self.high

    def __iter__(self):
        return iter(range(self.low, self.high + 1))

    def __eq__(self, other):
        return isinstance(other, Versions) and (self.low, self.high) == (other.low, other.high)

    def __hash__(self):
        return hash((self.low, self.high))

    def __repr__(self):
        if self.empty:
            return "Versions('none')"
        if self.high == self.MAX:
            return f"Versions('{self.low}+')"
        return f"Versions('{self.low}-{self.high}')"


def snake_case(name: str) -> str:
    """Kafka's PascalCase field name as a Python attribute (``KRaftVersionFeature`` -> ``kraft_version_feature``)."""
    name = name.replace("KRaft", "Kraft")
    name = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1_\2", name)
    name = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", name)
    return name.lower()


def camel_case(name: str) -> str:
    """Kafka's JSON name for a field: the schema name with its first letter lowered."""
    return name[:1].lower() + name[1:]


class Field:
    """One field of a struct, as declared in Kafka's schema.

    ``type`` is Kafka's type string: a primitive (``int32``, ``string``,
    ``records``, ...), ``[]<primitive>``, ``[]<StructName>`` or a struct name.
    Struct-typed fields carry their members in ``fields`` unless they refer to
    one of the message's ``common_structs``.
    """

    __slots__ = (
        "name", "type", "versions", "nullable_versions", "default", "tag",
        "tagged_versions", "ignorable", "flexible_versions", "fields",
        "attr", "json_name", "is_array", "element_type",
    )

    def __init__(self, name, type, versions, *, nullable=None, default=None, tag=None,
                 tagged=None, ignorable=False, flexible=None, fields=None):
        self.name = name
        self.type = type
        self.versions = Versions.parse(versions)
        self.nullable_versions = Versions.parse(nullable)
        self.default = default
        self.tag = tag
        self.tagged_versions = Versions.parse(tagged)
        if (tag is None) != self.tagged_versions.empty:
            raise ValueError(f"field {name}: tag and tagged versions go together")
        self.ignorable = ignorable
        self.flexible_versions = None if flexible is None else Versions.parse(flexible)
        self.fields = tuple(fields) if fields is not None else None
        self.attr = snake_case(name)
        self.json_name = camel_case(name)
        self.is_array = type.startswith("[]")
        self.element_type = type[2:] if self.is_array else type

    @property
    def is_struct(self) -> bool:
        return self.element_type not in PRIMITIVE_TYPES

    def __repr__(self):
        return f"Field({self.name!r}, {self.type!r}, {self.versions!r})"


class StructSchema:
    """A named struct shared by several fields of one message (Kafka's ``commonStructs``)."""

    __slots__ = ("name", "versions", "fields")

    def __init__(self, name, versions, *, fields):
        self.name = name
        self.versions = Versions.parse(versions)
        self.fields = tuple(fields)


class MessageSchema:
    """A top-level message: a request, response, header or data record."""

    __slots__ = ("name", "kind", "api_key", "valid_versions", "flexible_versions",
                 "fields", "common_structs")

    def __init__(self, name, kind, *, valid, flexible, fields, api_key=None, common_structs=()):
        if kind not in ("request", "response", "header", "data"):
            raise ValueError(f"unknown message kind {kind!r}")
        self.name = name
        self.kind = kind
        self.api_key = api_key
        self.valid_versions = Versions.parse(valid)
        self.flexible_versions = Versions.parse(flexible)
        self.fields = tuple(fields)
        self.common_structs = tuple(common_structs)

    def __repr__(self):
        return f"MessageSchema({self.name!r}, valid={self.valid_versions!r})"
