"""The two record codecs under test: the Cython one (which must load; a missing
extension is a failure, not a skip) and the pure twin. Import the `codec`
fixture from here so every test runs against both."""

import importlib

import pytest

CODECS = ("native", "pure")


def load_codec(name):
    return importlib.import_module("kraft._native.records" if name == "native" else "kraft.records._pure")


@pytest.fixture(scope="session", params=CODECS)
def codec(request):
    return load_codec(request.param)
