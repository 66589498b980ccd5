"""Hypothesis strategies for any generated message class at any version, driven by its schema."""
from hypothesis import strategies as st

from kraft.protocol.codec import _INT_RANGES
from kraft.protocol.uuid import Uuid

#: Tags no schema here uses, for unknown tagged fields.
UNKNOWN_TAGS = st.integers(min_value=50, max_value=20000)


def _scalar(type_name):
    if type_name in _INT_RANGES:
        low, high = _INT_RANGES[type_name]
        return st.integers(min_value=low, max_value=high)
    if type_name == "bool":
        return st.booleans()
    if type_name == "uuid":
        return st.binary(min_size=16, max_size=16).map(Uuid)
    if type_name == "string":
        return st.text(max_size=12)
    if type_name in ("bytes", "records"):
        return st.binary(max_size=40)
    if type_name == "float64":
        return st.floats(allow_nan=False)
    raise ValueError(type_name)


def _value(field, version, struct_classes):
    if field.is_array:
        if field.is_struct:
            element = message_strategy(struct_classes[field.element_type], version)
        else:
            element = _scalar(field.element_type)
        value = st.lists(element, max_size=3)
    elif field.is_struct:
        value = message_strategy(struct_classes[field.type], version)
    else:
        value = _scalar(field.type)
    if version in field.nullable_versions:
        value = st.none() | value
    return value


def message_strategy(cls, version, unknown_tags=True):
    """Random instances of ``cls`` that are writable at ``version``: fields the
    version lacks keep their defaults, nulls only where nullable, and (in
    flexible versions) a few unknown tagged fields."""
    kwargs = {}
    for field in cls._fields:
        if version in field.versions:
            kwargs[field.attr] = _value(field, version, cls._struct_classes)
    if unknown_tags and version in cls._flexible_versions:
        kwargs["unknown_tagged_fields"] = st.lists(
            st.tuples(UNKNOWN_TAGS, st.binary(max_size=8)), max_size=2, unique_by=lambda t: t[0])
    return st.builds(cls, **kwargs)
