"""kraft: Apache Kafka's KRaft consensus layer, in Python with a Cython core."""

__version__ = "0.1.0.dev0"
