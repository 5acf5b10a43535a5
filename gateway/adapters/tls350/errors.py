"""What can go wrong talking to a TLS-350 console: one exception per kind, all ``DeviceError``s.

``PollingAdapter`` turns any of them into a logged ``device_fault`` alarm and a reconnect; the
class name and message in that alarm say what was wrong with which reply.
"""

from __future__ import annotations

from typing import Final

from fuelwatch.gateway.adapters.base import DeviceError

__all__ = [
    "BadFieldError",
    "BadHexError",
    "ChecksumError",
    "CommandRejectedError",
    "ConnectionClosedError",
    "EchoMismatchError",
    "FieldCountError",
    "MissingEtxError",
    "MissingSohError",
    "ReplyTimeoutError",
    "Tls350Error",
    "TruncatedFrameError",
]

_PREVIEW: Final = 48


def _preview(data: bytes) -> str:
    text = data[:_PREVIEW].decode("ascii", "backslashreplace")
    return text + ("..." if len(data) > _PREVIEW else "")


class Tls350Error(DeviceError):
    """A TLS-3xx reply we cannot use. ``frame`` holds the bytes received (may be empty)."""

    def __init__(self, message: str, frame: bytes = b"") -> None:
        self.frame = frame
        super().__init__(f"{message} (reply {_preview(frame)!r})" if frame else message)


class MissingSohError(Tls350Error):
    """The reply does not start with ``<SOH>``."""


class MissingEtxError(Tls350Error):
    """The reply does not end with ``<ETX>``."""


class ChecksumError(Tls350Error):
    """The ``&&CCCC`` trailer is missing, not hex, or does not match the bytes."""


class CommandRejectedError(Tls350Error):
    """The console answered ``<SOH>9999FF1B<ETX>``: it does not support the command."""


class EchoMismatchError(Tls350Error):
    """The reply echoes another function or tank than the command asked for."""


class TruncatedFrameError(Tls350Error):
    """The data ends in the middle of a record or float block."""


class BadHexError(Tls350Error):
    """A hex field (status, count, float) holds something other than hex digits."""


class BadFieldError(Tls350Error):
    """A decimal field or a date is malformed, or a float is not finite."""


class FieldCountError(Tls350Error):
    """A record announces fewer float fields than the layout needs."""


class ReplyTimeoutError(Tls350Error):
    """The console stopped sending before the reply's ETX (or never started)."""


class ConnectionClosedError(Tls350Error):
    """The console closed the connection (or the line went away) before the reply ended."""
