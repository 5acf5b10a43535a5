"""The one marker for errors a person can act on.

Exceptions that describe bad input, a missing service or a conflicting registration derive
from ``UserFacingError`` (as well as their natural builtin base). The CLI prints their message
and exits with status 2; anything else is a bug and keeps its traceback. Importing this module
costs nothing, so the gateway does not load cloud code just to know what to catch.
"""

from __future__ import annotations

__all__ = ["UserFacingError"]


class UserFacingError(Exception):
    """An error whose message tells the user what to fix."""
