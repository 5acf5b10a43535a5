"""Shared by every click command: user-facing errors become one clear line, never a traceback."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from typing import ParamSpec, TypeVar

import click

from fuelwatch.errors import UserFacingError

__all__ = ["UserError", "user_errors"]

P = ParamSpec("P")
R = TypeVar("R")


class UserError(click.ClickException):
    exit_code = 2


def user_errors(fn: Callable[P, R]) -> Callable[P, R]:
    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return fn(*args, **kwargs)
        except UserFacingError as exc:
            raise UserError(str(exc)) from exc
        except FileNotFoundError as exc:
            raise UserError(f"{exc.filename or 'file'}: {exc.strerror}") from exc
        except PermissionError as exc:
            raise UserError(f"{exc.filename or 'file'}: {exc.strerror}") from exc
        except KeyboardInterrupt:
            sys.exit(130)

    return wrapper
