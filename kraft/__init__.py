"""kraft: Apache Kafka's KRaft consensus layer, in Python with a Cython core."""

__version__ = "0.1.0.dev0"

from kraft.checksum import crc32c  # noqa: E402,F401  (public: kraft.crc32c)
