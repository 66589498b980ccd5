"""kraft: Apache Kafka's KRaft consensus layer, in Python with a Cython core."""

from kraft._version import __version__  # noqa: F401

from kraft.checksum import crc32c  # noqa: E402,F401  (public: kraft.crc32c)


def __getattr__(name):
    # The embedding API is imported on first use: ``import kraft`` stays light.
    if name in ("RaftManager", "PartitionIdentity", "AppendLostError"):
        from kraft.server import raft_manager
        return getattr(raft_manager, name)
    raise AttributeError(f"module 'kraft' has no attribute {name!r}")
