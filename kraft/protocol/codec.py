"""The one generic codec: message classes built from schemas, and their byte encoders and decoders.

:func:`build_message_class` turns a :class:`~kraft.protocol.schema.MessageSchema`
into a Python class (plus one class per nested struct, reachable as
attributes under Kafka's struct names).  The first time a (struct, version)
pair is encoded or decoded, :func:`_compile` specialises the struct's field
table for that version: its decoder and encoder are generated as
straight-line Python (each run of fixed-width fields read or written by one
:class:`struct.Struct`; strings, arrays and the tagged-field section of the
decoder inlined) and cached on the class.

Value types: integers are ``int``, ``bool`` is ``bool``, strings are ``str``
(``None`` for null), ``bytes`` fields are ``bytes``, uuids are
:class:`~kraft.protocol.uuid.Uuid`, arrays are ``list``, structs are instances
of their generated class, and ``records`` fields decode to a ``memoryview``
slice of the input (they encode from any buffer).
"""
from __future__ import annotations

import base64
import binascii
import struct

from kraft.protocol.exceptions import (
    BufferUnderflowError,
    InvalidFieldValueError,
    InvalidLengthError,
    InvalidStringError,
    InvalidTaggedFieldError,
    NullFieldError,
    ProtocolError,
    UnsupportedVersionError,
)
from kraft.protocol.schema import Field, MessageSchema, Versions
from kraft.protocol.uuid import Uuid
from kraft.protocol.varint import read_uvarint, write_uvarint

MAX_STRING_LENGTH = 0x7FFF

_FIXED_FORMATS = {
    "bool": "?", "int8": "b", "int16": "h", "uint16": "H", "int32": "i",
    "uint32": "I", "int64": "q", "float64": "d", "uuid": "16s",
}
_INT_RANGES = {
    "int8": (-(1 << 7), (1 << 7) - 1),
    "int16": (-(1 << 15), (1 << 15) - 1),
    "uint16": (0, (1 << 16) - 1),
    "int32": (-(1 << 31), (1 << 31) - 1),
    "uint32": (0, (1 << 32) - 1),
    "int64": (-(1 << 63), (1 << 63) - 1),
}
_INT16 = struct.Struct(">h")
_INT32 = struct.Struct(">i")
_EMPTY = ()


# ---------------------------------------------------------------------------
# output

#: Blobs at least this long are kept as separate chunks by :class:`Output`.
CHUNK_THRESHOLD = 8192


class Output(bytearray):
    """A growing output that keeps large blobs (records) aside as chunks.

    Small values are appended to the bytearray itself; a large ``records`` or
    ``bytes`` value is referenced, not copied, until :meth:`getvalue` joins
    everything, so its bytes are copied exactly once into the result.
    """

    __slots__ = ("_chunks",)

    def __init__(self):
        super().__init__()
        self._chunks = []

    def append_chunk(self, data) -> None:
        """Reference ``data`` (any buffer) as the next part of the output."""
        if self:
            self._chunks.append(bytes(self))
            self.clear()
        self._chunks.append(data)

    @property
    def size(self) -> int:
        """Bytes written so far."""
        return len(self) + sum(memoryview(c).nbytes for c in self._chunks)

    def getvalue(self, prefix: bytes = b"") -> bytes:
        """Everything written, after ``prefix``, as one ``bytes``."""
        if not self._chunks:
            return prefix + self if prefix else bytes(self)
        return b"".join((prefix, *self._chunks, self))

    def parts(self, prefix: bytes = b""):
        """Everything written, after ``prefix``: one ``bytes`` when no blob was kept aside, else a
        list of buffers whose concatenation is :meth:`getvalue` (the blobs not copied: for a
        vectored write, ``transport.writelines``)."""
        if not self._chunks:
            return prefix + self if prefix else bytes(self)
        parts = list(self._chunks)
        if prefix:
            if parts[0].__class__ is bytes:
                parts[0] = prefix + parts[0]
            else:
                parts.insert(0, prefix)
        if self:
            parts.append(bytes(self))
        return parts


# ---------------------------------------------------------------------------
# defaults

def _default_factory(field: Field, struct_classes: dict):
    """Return ``(is_static, value_or_factory)`` for a field's default value."""
    t = field.type
    raw = field.default
    if field.is_array:
        return False, list
    if field.is_struct:
        return False, struct_classes[t]
    if t == "records":
        return True, None
    if t == "bytes":
        return True, None if raw == "null" else b""
    if t == "uuid":
        return True, Uuid.ZERO
    if t == "string":
        if raw == "null":
            return True, None
        return True, "" if raw is None else raw
    if t == "bool":
        return True, raw == "true"
    if t == "float64":
        return True, float(raw) if raw else 0.0
    return True, int(raw, 0) if raw else 0


# ---------------------------------------------------------------------------
# value readers: read(buf, pos) -> (value, pos); buf is a memoryview of bytes

def _null_or_error(field: Field, nullable: bool, version: int):
    if nullable:
        return None
    raise NullFieldError(f"non-nullable field {field.name} was serialized as null (version {version})")


def _make_reader(field: Field, version: int, flexible: bool, element: bool, struct_classes: dict):
    """A reader for one field's value (or, with ``element``, for one array element)."""
    t = field.element_type if element else field.type
    nullable = (not element) and version in field.nullable_versions
    if field.flexible_versions is not None:
        flexible = version in field.flexible_versions
    name = field.name

    if not element and field.is_array:
        read_elem = _make_reader(field, version, flexible, True, struct_classes)

        def read_array(buf, pos):
            if flexible:
                n, pos = read_uvarint(buf, pos)
                n -= 1
            else:
                (n,), pos = _INT32.unpack_from(buf, pos), pos + 4
            if n < 0:
                if n == -1:
                    return _null_or_error(field, nullable, version), pos
                raise InvalidLengthError(f"field {name}: negative array length {n}")
            if n > len(buf) - pos:
                raise InvalidLengthError(
                    f"field {name}: tried to allocate a collection of size {n}, "
                    f"but there are only {len(buf) - pos} bytes remaining")
            out = []
            append = out.append
            for _ in range(n):
                v, pos = read_elem(buf, pos)
                append(v)
            return out, pos
        return read_array

    if t in struct_classes:
        return struct_classes[t]._codec(version).decode

    if t in _FIXED_FORMATS:
        st = struct.Struct(">" + _FIXED_FORMATS[t])
        size = st.size
        unpack = st.unpack_from
        if t == "uuid":
            def read_uuid(buf, pos):
                return Uuid._of(unpack(buf, pos)[0]), pos + size
            return read_uuid

        def read_fixed(buf, pos):
            return unpack(buf, pos)[0], pos + size
        return read_fixed

    if t in ("string", "bytes", "records"):
        is_string = t == "string"
        copy = t == "bytes"

        def read_blob(buf, pos):
            if flexible:
                n, pos = read_uvarint(buf, pos)
                n -= 1
            elif is_string:
                (n,), pos = _INT16.unpack_from(buf, pos), pos + 2
            else:
                (n,), pos = _INT32.unpack_from(buf, pos), pos + 4
            if n < 0:
                if n == -1:
                    return _null_or_error(field, nullable, version), pos
                raise InvalidLengthError(f"field {name}: negative length {n}")
            if is_string and n > MAX_STRING_LENGTH:
                raise InvalidStringError(f"string field {name} had invalid length {n}")
            end = pos + n
            if end > len(buf):
                raise BufferUnderflowError(
                    f"field {name}: length {n} is beyond the {len(buf) - pos} bytes remaining")
            if is_string:
                try:
                    return str(buf[pos:end], "utf-8"), end
                except UnicodeDecodeError as e:
                    raise InvalidStringError(f"string field {name} is not valid UTF-8: {e}") from None
            if copy:
                return bytes(buf[pos:end]), end
            return buf[pos:end], end
        return read_blob

    raise ValueError(f"unknown type {t!r} for field {name}")


# ---------------------------------------------------------------------------
# value writers: write(value, out: bytearray)

def _bad_value(field: Field, value, why: str):
    return InvalidFieldValueError(f"field {field.name}: cannot encode {value!r}: {why}")


def _make_writer(field: Field, version: int, flexible: bool, element: bool, struct_classes: dict):
    t = field.element_type if element else field.type
    nullable = (not element) and version in field.nullable_versions
    if field.flexible_versions is not None:
        flexible = version in field.flexible_versions

    def null_value(out):
        if not nullable:
            raise _bad_value(field, None, f"not nullable in version {version}")
        if flexible:
            out.append(0)
        elif t == "string":
            out += b"\xff\xff"
        else:
            out += b"\xff\xff\xff\xff"

    if not element and field.is_array:
        write_elem = _make_writer(field, version, flexible, True, struct_classes)

        def write_array(value, out):
            if value is None:
                return null_value(out)
            if not isinstance(value, (list, tuple)):
                raise _bad_value(field, value, "an array must be a list")
            if flexible:
                write_uvarint(len(value) + 1, out)
            else:
                out += _INT32.pack(len(value))
            for v in value:
                write_elem(v, out)
        return write_array

    if t in struct_classes:
        cls = struct_classes[t]

        encode = cls._codec(version).encode

        def write_struct(value, out):
            if value.__class__ is not cls:
                raise _bad_value(field, value, f"expected a {cls.__qualname__}")
            encode(value, out)
        return write_struct

    if t in _FIXED_FORMATS:
        pack = struct.Struct(">" + _FIXED_FORMATS[t]).pack
        low_high = _INT_RANGES.get(t)

        def write_fixed(value, out):
            if t == "uuid":
                if value.__class__ is not Uuid:
                    raise _bad_value(field, value, "expected a Uuid")
                out += value._bytes
                return
            if low_high is not None and (
                    not isinstance(value, int) or not low_high[0] <= value <= low_high[1]):
                raise _bad_value(field, value, f"not a {t}")
            try:
                out += pack(value)
            except struct.error as e:
                raise _bad_value(field, value, str(e)) from None
        return write_fixed

    if t in ("string", "bytes", "records"):
        is_string = t == "string"

        def write_blob(value, out):
            if value is None:
                return null_value(out)
            if is_string:
                if value.__class__ is not str:
                    raise _bad_value(field, value, "expected a str")
                data = value.encode("utf-8")
                n = len(data)
                if n > MAX_STRING_LENGTH:
                    raise _bad_value(field, value[:20] + "...", f"string longer than {MAX_STRING_LENGTH} bytes")
            else:
                try:
                    data = value if value.__class__ is bytes else memoryview(value).cast("B")
                except TypeError:
                    raise _bad_value(field, value, "expected a bytes-like object") from None
                n = len(data)
            if flexible:
                write_uvarint(n + 1, out)
            elif is_string:
                out += _INT16.pack(n)
            else:
                out += _INT32.pack(n)
            if n >= CHUNK_THRESHOLD and out.__class__ is Output:
                out.append_chunk(data)
            else:
                out += data
        return write_blob

    raise ValueError(f"unknown type {t!r} for field {field.name}")


# ---------------------------------------------------------------------------
# per (struct, version) compiled codec

class StructCodec:
    """The compiled encoder and decoder of one struct at one version."""

    __slots__ = ("decode", "encode")

    def __init__(self, decode, encode):
        self.decode = decode
        self.encode = encode


def _compile(cls, version: int) -> StructCodec:
    fields = cls._fields
    flexible = version in cls._flexible_versions
    struct_classes = cls._struct_classes

    body = []             # ("group", st, [field...]) or ("field", field, reader)
    writers = {}          # attr -> writer, for the "field" entries of the body
    defaults = {}         # attr -> (is_static, default) for fields not in the body at this version
    absent_checks = []    # (attr, field, default value)
    tagged_readers = {}   # tag -> (attr, reader)
    tagged_writers = []   # (tag, attr, default value, writer)
    other_tags = set()    # tags known to the schema but not valid at this version

    group = []  # pending run of fixed-width fields

    def flush_group():
        if not group:
            return
        st = struct.Struct(">" + "".join(_FIXED_FORMATS[f.type] for f in group))
        body.append(("group", st, tuple(group)))
        group.clear()

    for field in fields:
        static, default = _default_factory(field, struct_classes)
        if field.tag is not None:
            if version in field.tagged_versions:
                reader = _make_reader(field, version, True, False, struct_classes)
                writer = _make_writer(field, version, True, False, struct_classes)
                tagged_readers[field.tag] = (field.attr, reader)
                tagged_writers.append((field.tag, field.attr, default if static else default(), writer))
                defaults[field.attr] = (static, default)
                continue
            other_tags.add(field.tag)
        if version not in field.versions:
            defaults[field.attr] = (static, default)
            absent_checks.append((field.attr, field, default if static else default()))
            continue
        if field.type in _FIXED_FORMATS:
            group.append(field)
            continue
        flush_group()
        body.append(("field", field, _make_reader(field, version, flexible, False, struct_classes)))
        writers[field.attr] = _make_writer(field, version, flexible, False, struct_classes)
    flush_group()
    tagged_writers.sort(key=lambda entry: entry[0])

    decode = _generate_decoder(cls, version, flexible, body, defaults, tagged_readers, other_tags)
    encode = _generate_encoder(cls, version, flexible, body, writers, absent_checks, tuple(tagged_writers))
    return StructCodec(decode, encode)


def _generate_decoder(cls, version, flexible, body, defaults, tagged_readers, other_tags):
    """Write the decoder of ``cls`` at ``version`` as straight-line Python and compile it."""
    namespace = {
        "_new": object.__new__, "_cls": cls, "_uuid": Uuid._of,
    }
    lines = ["def decode(buf, pos):"]
    local = {}
    for i, (kind, payload, extra) in enumerate(body):
        if kind == "group":
            st, members = payload, extra
            names = [f"v_{f.attr}" for f in members]
            for f, name in zip(members, names):
                local[f.attr] = name
            namespace[f"_unpack{i}"] = st.unpack_from
            lines.append(f"    {', '.join(names)}, = _unpack{i}(buf, pos)")
            lines.append(f"    pos += {st.size}")
            for f, name in zip(members, names):
                if f.type == "uuid":
                    lines.append(f"    {name} = _uuid({name})")
        else:
            field, reader = payload, extra
            name = local[field.attr] = f"v_{field.attr}"
            lines.extend(_inline_reader(field, version, flexible, reader, name, i, namespace))
    tagged_attrs = {attr: tag for tag, (attr, _) in tagged_readers.items()}
    items = []
    deferred = []  # tagged struct fields: built at their default only when the tag is absent
    for field in cls._fields:
        attr = field.attr
        if attr in local:
            items.append(f"{attr!r}: {local[attr]}")
            continue
        static, default = defaults[attr]
        if static:
            namespace[f"_default_{attr}"] = default
            value = f"_default_{attr}"
        elif default is list:
            value = "[]"
        else:
            namespace[f"_make_{attr}"] = default
            value = f"_make_{attr}()"
        if attr in tagged_attrs:
            local[attr] = f"v_{attr}"
            if static:
                lines.append(f"    v_{attr} = {value}")
            else:
                lines.append(f"    v_{attr} = None")
                deferred.append((attr, value))
            value = f"v_{attr}"
        items.append(f"{attr!r}: {value}")
    if flexible:
        namespace.update({"_uvarint": read_uvarint, "_tag_overrun": _tag_overrun, "_bad_tag": _bad_tag})
        lines += ["    if buf[pos]:",
                  "        count, pos = _uvarint(buf, pos)",
                  "        unknown = None",
                  "        for _ in range(count):",
                  "            tag = buf[pos]",
                  "            if tag < 128:",
                  "                pos += 1",
                  "            else:",
                  "                tag, pos = _uvarint(buf, pos)",
                  "            size = buf[pos]",
                  "            if size < 128:",
                  "                pos += 1",
                  "            else:",
                  "                size, pos = _uvarint(buf, pos)",
                  "            end = pos + size",
                  "            if end > len(buf):",
                  "                _tag_overrun(tag, size, len(buf) - pos)"]
        keyword = "if"
        for tag in sorted(tagged_readers):
            attr, reader = tagged_readers[tag]
            namespace[f"_tagged{tag}"] = reader
            lines += [f"            {keyword} tag == {tag}:",
                      f"                v_{attr}, _ = _tagged{tag}(buf[pos:end], 0)"]
            keyword = "elif"
        if other_tags:
            namespace["_other_tags"] = frozenset(other_tags)
            lines += [f"            {keyword} tag in _other_tags:",
                      f"                _bad_tag(tag, {version})"]
            keyword = "elif"
        unknown_lines = ["if unknown is None:",
                         "    unknown = []",
                         "unknown.append((tag, bytes(buf[pos:end])))"]
        if keyword == "if":
            lines += ["            " + line for line in unknown_lines]
        else:
            lines += ["            else:"] + ["                " + line for line in unknown_lines]
        lines += ["            pos = end",
                  "        unknown_tagged_fields = tuple(unknown) if unknown else ()",
                  "    else:",
                  "        pos += 1",
                  "        unknown_tagged_fields = ()"]
    else:
        lines.append("    unknown_tagged_fields = ()")
    for attr, value in deferred:
        lines += [f"    if v_{attr} is None:",
                  f"        v_{attr} = {value}"]
    items.append("'unknown_tagged_fields': unknown_tagged_fields")
    lines.append("    obj = _new(_cls)")
    lines.append("    obj.__dict__ = {" + ", ".join(items) + "}")
    lines.append("    return obj, pos")
    source = "\n".join(lines)
    exec(compile(source, f"<kraft.protocol decoder {cls.__qualname__} v{version}>", "exec"), namespace)
    return namespace["decode"]


def _length_errors(field: Field, version: int, nullable: bool, is_string: bool):
    """The slow paths of an inlined length read: null, negative, too long, past the end."""
    def null_or_negative(n):
        if n == -1:
            return _null_or_error(field, nullable, version)
        raise InvalidLengthError(f"field {field.name}: negative length {n}")

    def too_long(n, remaining):
        if is_string and n > MAX_STRING_LENGTH:
            raise InvalidStringError(f"string field {field.name} had invalid length {n}")
        if field.is_array:
            raise InvalidLengthError(
                f"field {field.name}: tried to allocate a collection of size {n}, "
                f"but there are only {remaining} bytes remaining")
        raise BufferUnderflowError(f"field {field.name}: length {n} is beyond the {remaining} bytes remaining")

    return null_or_negative, too_long


def _inline_reader(field: Field, version: int, flexible: bool, reader, name: str, i: int, namespace: dict):
    """Source lines that read ``field`` into the local ``name`` (strings, blobs and arrays are inlined)."""
    t = field.type
    if field.flexible_versions is not None:
        flexible = version in field.flexible_versions
    if not field.is_array and t not in ("string", "bytes", "records"):
        namespace[f"_read{i}"] = reader
        return [f"    {name}, pos = _read{i}(buf, pos)"]
    is_string = t == "string"
    null_or_negative, too_long = _length_errors(field, version, version in field.nullable_versions, is_string)
    namespace.update({f"_null{i}": null_or_negative, f"_long{i}": too_long, "_uvarint": read_uvarint,
                      "_i16": _INT16.unpack_from, "_i32": _INT32.unpack_from})
    if flexible:
        lines = ["    n = buf[pos]",
                 "    if n < 128:",
                 "        pos += 1",
                 "    else:",
                 "        n, pos = _uvarint(buf, pos)",
                 "    n -= 1"]
    elif is_string:
        lines = ["    n, = _i16(buf, pos)", "    pos += 2"]
    else:
        lines = ["    n, = _i32(buf, pos)", "    pos += 4"]
    lines += ["    if n < 0:",
              f"        {name} = _null{i}(n)",
              "    else:"]
    if field.is_array:
        namespace[f"_element{i}"] = _make_reader(field, version, flexible, True, namespace["_cls"]._struct_classes)
        lines += ["        if n > len(buf) - pos:",
                  f"            _long{i}(n, len(buf) - pos)",
                  f"        {name} = []",
                  "        for _ in range(n):",
                  f"            x, pos = _element{i}(buf, pos)",
                  f"            {name}.append(x)"]
        return lines
    lines += ["        end = pos + n",
              f"        if {'n > 32767 or ' if is_string else ''}end > len(buf):",
              f"            _long{i}(n, len(buf) - pos)"]
    if is_string:
        lines.append(f"        {name} = str(buf[pos:end], 'utf-8')")
    elif t == "bytes":
        lines.append(f"        {name} = bytes(buf[pos:end])")
    else:
        lines.append(f"        {name} = buf[pos:end]")
    lines.append("        pos = end")
    return lines


def _generate_encoder(cls, version, flexible, body, writers, absent_checks, tagged_writers):
    """Write the encoder of ``cls`` at ``version`` as straight-line Python and compile it."""
    name = cls.__qualname__
    namespace = {"_write_tagged": _write_tagged, "_tagged_writers": tagged_writers, "_name": name,
                 "_unsupported": _unsupported_field}
    lines = ["def encode(obj, out):", "    d = obj.__dict__"]
    for attr, field, default in absent_checks:
        if field.ignorable:
            continue  # dropped silently, whatever its value
        namespace[f"_absent_{attr}"] = default
        namespace[f"_field_{attr}"] = field
        lines += [f"    if d[{attr!r}] != _absent_{attr}:",
                  f"        _unsupported(_field_{attr}, {version}, _name)"]
    for i, (kind, payload, extra) in enumerate(body):
        if kind == "group":
            st, members = payload, extra
            args = ", ".join(f"d[{f.attr!r}]._bytes" if f.type == "uuid" else f"d[{f.attr!r}]" for f in members)
            namespace[f"_pack{i}"] = st.pack
            namespace[f"_explain{i}"] = _group_explainer(members, version)
            lines += ["    try:",
                      f"        out += _pack{i}({args})",
                      "    except (struct.error, AttributeError) as e:",
                      f"        _explain{i}(d, e)"]
        else:
            field = payload
            namespace[f"_write{i}"] = writers[field.attr]
            lines.append(f"    _write{i}(d[{field.attr!r}], out)")
    if flexible:
        if tagged_writers:
            conditions = []
            for tag, attr, default, _ in tagged_writers:
                namespace[f"_tagged_default{tag}"] = default
                conditions.append(f"d[{attr!r}] == _tagged_default{tag}")
            lines += ["    if " + " and ".join(conditions) + " and not d['unknown_tagged_fields']:",
                      "        out.append(0)",
                      "    else:",
                      "        _write_tagged(d, out, _tagged_writers, _name)"]
        else:
            lines += ["    if d['unknown_tagged_fields']:",
                      "        _write_tagged(d, out, (), _name)",
                      "    else:",
                      "        out.append(0)"]
    namespace["struct"] = struct
    source = "\n".join(lines)
    exec(compile(source, f"<kraft.protocol encoder {name} v{version}>", "exec"), namespace)
    return namespace["encode"]


def _unsupported_field(field: Field, version: int, name: str):
    raise UnsupportedVersionError(f"attempted to write a non-default {field.name} at version {version} of {name}")


def _group_explainer(members, version):
    """The slow path of a failed fixed-width write: name the first offending field."""
    def explain(d, error):
        for field in members:
            _make_writer(field, version, False, False, {})(d[field.attr], bytearray())
        values = {f.attr: d[f.attr] for f in members}
        raise InvalidFieldValueError(f"cannot encode {values}: {error}")
    return explain


def _tag_overrun(tag: int, size: int, remaining: int):
    raise BufferUnderflowError(f"tagged field {tag}: size {size} is beyond the {remaining} bytes remaining")


def _bad_tag(tag: int, version: int):
    raise InvalidTaggedFieldError(f"tag {tag} is not valid for version {version}")


def _write_tagged(d, out, tagged_writers, name):
    """A tagged-field section: known fields that differ from their default, in tag order, then unknown ones."""
    unknown = d["unknown_tagged_fields"]
    present = []
    for tag, attr, default, writer in tagged_writers:
        value = d[attr]
        if value != default:
            buf = bytearray()
            writer(value, buf)
            present.append((tag, buf))
    write_uvarint(len(present) + len(unknown), out)
    for tag, data in present:
        write_uvarint(tag, out)
        write_uvarint(len(data), out)
        out += data
    for entry in unknown:
        _write_unknown_tag(entry, out, name)


def _write_unknown_tag(entry, out, name):
    try:
        tag, data = entry
        size = memoryview(data).nbytes
    except (TypeError, ValueError):
        raise InvalidFieldValueError(f"{name}: an unknown tagged field must be (tag, bytes), got {entry!r}") from None
    if not isinstance(tag, int) or not 0 <= tag <= 0xFFFFFFFF:
        raise InvalidFieldValueError(f"{name}: invalid tag {tag!r}")
    write_uvarint(tag, out)
    write_uvarint(size, out)
    out += data


# ---------------------------------------------------------------------------
# JSON form (Kafka's generated JSON converters)

def _value_to_json(field: Field, value, version: int, element: bool = False):
    if value is None:
        return None
    if not element and field.is_array:
        return [_value_to_json(field, v, version, True) for v in value]
    t = field.element_type if element else field.type
    if t == "uuid":
        return str(value)
    if t in ("bytes", "records"):
        return base64.b64encode(bytes(value)).decode("ascii")
    if field.is_struct:
        return value.to_json(version)
    return value


def _value_from_json(field: Field, node, version: int, struct_classes: dict, element: bool = False):
    where = f"field {field.json_name}"
    if node is None:
        if element or version not in field.nullable_versions:
            raise InvalidFieldValueError(f"{where}: null is not allowed in version {version}")
        return None
    if not element and field.is_array:
        if not isinstance(node, list):
            raise InvalidFieldValueError(f"{where}: expected a JSON array, got {node!r}")
        return [_value_from_json(field, v, version, struct_classes, True) for v in node]
    t = field.element_type if element else field.type
    if t in struct_classes:
        if not isinstance(node, dict):
            raise InvalidFieldValueError(f"{where}: expected a JSON object, got {node!r}")
        return struct_classes[t].from_json(node, version)
    if t == "uuid":
        try:
            return Uuid.from_string(node)
        except ValueError as e:
            raise InvalidFieldValueError(f"{where}: {e}") from None
    if t in ("bytes", "records"):
        if not isinstance(node, str):
            raise InvalidFieldValueError(f"{where}: expected a base64 string, got {node!r}")
        try:
            return base64.b64decode(node, validate=True)
        except (binascii.Error, ValueError) as e:
            raise InvalidFieldValueError(f"{where}: invalid base64: {e}") from None
    if t == "string":
        if not isinstance(node, str):
            raise InvalidFieldValueError(f"{where}: expected a string, got {node!r}")
        return node
    if t == "bool":
        if not isinstance(node, bool):
            raise InvalidFieldValueError(f"{where}: expected a boolean, got {node!r}")
        return node
    if t == "float64":
        if isinstance(node, bool) or not isinstance(node, (int, float)):
            raise InvalidFieldValueError(f"{where}: expected a number, got {node!r}")
        return float(node)
    if isinstance(node, str):
        try:
            node = int(node)
        except ValueError:
            raise InvalidFieldValueError(f"{where}: expected an integer, got {node!r}") from None
    if isinstance(node, float) and node.is_integer():
        node = int(node)
    if isinstance(node, bool) or not isinstance(node, int):
        raise InvalidFieldValueError(f"{where}: expected an integer, got {node!r}")
    low, high = _INT_RANGES[t]
    if not low <= node <= high:
        raise InvalidFieldValueError(f"{where}: {node} is out of range for {t}")
    return node


# ---------------------------------------------------------------------------
# the generated classes

def _short_repr(value):
    if isinstance(value, memoryview):
        return f"<{value.nbytes} bytes>"
    if isinstance(value, (bytes, bytearray)) and len(value) > 32:
        return f"<{len(value)} bytes>"
    return repr(value)


class Struct:
    """Base of every generated struct and message class.

    Fields are plain attributes named in snake_case; construct with keyword
    arguments (omitted fields take their schema default).  Equality is by
    value.  ``unknown_tagged_fields`` holds ``(tag, raw_bytes)`` pairs read
    from the wire for tags the schema does not know; they are written back
    after the known ones.
    """

    _fields: tuple = ()
    _flexible_versions = Versions.parse("none")
    _struct_classes: dict = {}
    _defaults: tuple = ()

    def __init__(self, **kwargs):
        d = self.__dict__
        for attr, static, default in self._defaults:
            if attr in kwargs:
                d[attr] = kwargs.pop(attr)
            else:
                d[attr] = default if static else default()
        d["unknown_tagged_fields"] = tuple(kwargs.pop("unknown_tagged_fields", _EMPTY))
        if kwargs:
            names = ", ".join(sorted(kwargs))
            raise TypeError(f"{type(self).__qualname__} has no field(s) {names}")

    @classmethod
    def _codec(cls, version: int) -> StructCodec:
        codec = cls._codecs.get(version)
        if codec is None:
            codec = cls._codecs[version] = _compile(cls, version)
        return codec

    def __eq__(self, other):
        if other.__class__ is not self.__class__:
            return NotImplemented
        return self.__dict__ == other.__dict__

    __hash__ = None

    def __repr__(self):
        d = self.__dict__
        parts = [f"{f.attr}={_short_repr(d[f.attr])}" for f in self._fields]
        if d.get("unknown_tagged_fields"):
            parts.append(f"unknown_tagged_fields={d['unknown_tagged_fields']!r}")
        return f"{type(self).__qualname__}({', '.join(parts)})"

    def to_json(self, version: int) -> dict:
        """This struct in the JSON form of Kafka's generated converters, at ``version``."""
        d = self.__dict__
        out = {}
        for field in self._fields:
            if version not in field.versions:
                continue
            value = d[field.attr]
            if field.tag is not None and version in field.tagged_versions:
                static, default = _default_factory(field, self._struct_classes)
                if value == (default if static else default()):
                    continue
            out[field.json_name] = _value_to_json(field, value, version)
        return out

    @classmethod
    def from_json(cls, obj: dict, version: int):
        """Build from Kafka's JSON form at ``version``; a mandatory field that is missing is an error."""
        if not isinstance(obj, dict):
            raise InvalidFieldValueError(f"{cls.__qualname__}: expected a JSON object, got {obj!r}")
        kwargs = {}
        for field in cls._fields:
            if version not in field.versions:
                continue
            if field.json_name not in obj:
                if field.tag is not None and version in field.tagged_versions:
                    continue
                raise InvalidFieldValueError(
                    f"{cls.__qualname__}: unable to locate field '{field.json_name}', "
                    f"which is mandatory in version {version}")
            kwargs[field.attr] = _value_from_json(field, obj[field.json_name], version, cls._struct_classes)
        return cls(**kwargs)


class Message(Struct):
    """Base of the generated top-level message classes.

    Class attributes: ``name`` (Kafka's message name), ``api_key`` (``None``
    for data records and headers), ``valid_versions`` and
    ``flexible_versions`` (:class:`~kraft.protocol.schema.Versions`).
    """

    name: str = ""
    api_key = None
    valid_versions = Versions.parse("none")
    flexible_versions = Versions.parse("none")

    def encode(self, version: int) -> bytes:
        """The message body at ``version`` (no header, no size prefix)."""
        out = Output()
        self.encode_into(version, out)
        return out.getvalue()

    def encode_into(self, version: int, out: bytearray) -> None:
        """Append the message body at ``version`` to ``out``."""
        codec = self._codecs.get(version)
        if codec is None:
            if version not in self.valid_versions:
                raise UnsupportedVersionError(
                    f"{self.name} version {version} is not in {self.valid_versions!r}",
                    api_key=self.api_key, api_version=version)
            codec = self._codec(version)
        try:
            codec.encode(self, out)
        except ProtocolError as e:
            raise self._with_context(e, version)

    @classmethod
    def decode(cls, buffer, version: int, pos: int = 0):
        """Read a message body at ``version`` from ``buffer`` (bytes, bytearray or memoryview).

        Trailing bytes after the body are ignored, as Kafka does.
        """
        msg, _ = cls.decode_from(buffer, version, pos)
        return msg

    @classmethod
    def decode_from(cls, buffer, version: int, pos: int = 0):
        """Like :meth:`decode`, and also return the position after the body."""
        codec = cls._codecs.get(version)
        if codec is None:
            if version not in cls.valid_versions:
                raise UnsupportedVersionError(
                    f"{cls.name} version {version} is not in {cls.valid_versions!r}",
                    api_key=cls.api_key, api_version=version)
            codec = cls._codec(version)
        buf = memoryview(buffer) if buffer.__class__ is bytes else as_byte_view(buffer)
        try:
            return codec.decode(buf, pos)
        except UnicodeDecodeError as e:
            raise cls._with_context(InvalidStringError(f"a string is not valid UTF-8: {e}"), version) from None
        except (struct.error, IndexError):
            error = BufferUnderflowError(f"{cls.name} version {version}: the input ended in the middle of a value")
            raise cls._with_context(error, version) from None
        except ProtocolError as e:
            raise cls._with_context(e, version)

    @classmethod
    def _with_context(cls, error: ProtocolError, version: int) -> ProtocolError:
        # headers and data records have no API of their own: leave the context to the caller
        if cls.api_key is None:
            return error
        return error.with_context(api_key=cls.api_key, api_version=version)


def as_byte_view(buffer) -> memoryview:
    """A flat memoryview of unsigned bytes over ``buffer`` (no copy)."""
    view = buffer if isinstance(buffer, memoryview) else memoryview(buffer)
    if view.format != "B" or view.ndim != 1:
        view = view.cast("B")
    return view


def build_message_class(schema: MessageSchema, class_name: str | None = None) -> type:
    """Create the class of a message and of its nested structs from ``schema``."""
    struct_classes: dict[str, type] = {}
    common = {s.name: s for s in schema.common_structs}

    def make_struct(name, fields):
        if name in struct_classes:
            return struct_classes[name]
        cls = type(name, (Struct,), {"__module__": "kraft.protocol.messages"})
        struct_classes[name] = cls
        _populate(cls, fields)
        return cls

    def _populate(cls, fields):
        for field in fields:
            if field.is_struct:
                members = field.fields
                if members is None:
                    members = common[field.element_type].fields
                make_struct(field.element_type, members)
        cls._fields = tuple(fields)

    top = type(class_name or schema.name, (Message,), {"__module__": "kraft.protocol.messages"})
    _populate(top, schema.fields)
    top.name = schema.name
    top.api_key = schema.api_key
    top.valid_versions = schema.valid_versions
    top.flexible_versions = schema.flexible_versions
    for cls in (top, *struct_classes.values()):
        cls._flexible_versions = schema.flexible_versions
        cls._struct_classes = struct_classes
        cls._codecs = {}
        defaults = []
        for field in cls._fields:
            static, default = _default_factory(field, struct_classes)
            defaults.append((field.attr, static, default))
        cls._defaults = tuple(defaults)
    for name, cls in struct_classes.items():
        cls.__qualname__ = f"{top.__name__}.{name}"
        setattr(top, name, cls)
    return top
