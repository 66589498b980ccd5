"""Exceptions shared by every layer of kraft."""


class KraftError(Exception):
    """Base class of every error kraft raises on purpose."""


class CorruptRecordError(KraftError):
    """A record batch, record or control record failed validation.

    ``base_offset`` is the batch's base offset when it could be read and
    ``position`` the byte position of the batch in the buffer or file.
    """

    def __init__(self, message, *, base_offset=None, position=None):
        details = []
        if base_offset is not None:
            details.append(f"base offset {base_offset}")
        if position is not None:
            details.append(f"position {position}")
        if details:
            message = f"{message} ({', '.join(details)})"
        super().__init__(message)
        self.base_offset = base_offset
        self.position = position


class CrcMismatchError(CorruptRecordError):
    """A record batch's stored CRC-32C differs from the CRC of its bytes."""


class MissingDependencyError(KraftError, ImportError):
    """An optional library is needed for this (the message names the extra)."""


class ConfigError(KraftError, ValueError):
    """A configuration value is missing, malformed or out of range.

    ``key`` is the configuration key (for example
    ``controller.quorum.voters``); the message always names it.
    """

    def __init__(self, key, message):
        super().__init__(f"Invalid value for configuration {key}: {message}")
        self.key = key
