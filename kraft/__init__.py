"""kraft: Apache Kafka's KRaft consensus layer, in Python with a Cython core."""

from kraft._version import __version__  # noqa: F401

from kraft.checksum import crc32c  # noqa: E402,F401  (public: kraft.crc32c)


#: The embedding API, imported on first use so that ``import kraft`` stays light.
_LAZY = {
    "RaftManager": "kraft.server.raft_manager",
    "PartitionIdentity": "kraft.server.raft_manager",
    "AppendLostError": "kraft.server.raft_manager",
    "StartupError": "kraft.server.raft_manager",
    "NotLeaderError": "kraft.core.errors",
    "ServerConfig": "kraft.server.config",
    "OffsetAndEpoch": "kraft.core.log",
    "StateMachine": "kraft.server.state_machine",
    "StateMachineRunner": "kraft.server.state_machine",
}

__all__ = ["__version__", "crc32c", *_LAZY]


def __getattr__(name):
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'kraft' has no attribute {name!r}")
    import importlib
    return getattr(importlib.import_module(module), name)


def __dir__():
    return sorted(set(globals()) | set(_LAZY))
