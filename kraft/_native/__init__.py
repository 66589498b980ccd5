"""Cython hot paths: CRC-32C, the record-batch codec, log segments, snapshots.

Nothing here is public API; ``kraft.crc32c``, ``kraft.records`` and
``kraft.storage`` choose between these and the pure-Python twins.
"""
