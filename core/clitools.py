"""Shared by every click command: user-facing errors become one clear line, never a traceback.

``LazyGroup`` lets a command table name its subcommands by import path, so only the command
that runs is imported (the gateway install has no server-side packages to import).
"""

from __future__ import annotations

import functools
import importlib
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, ParamSpec, TypeVar

import click
from pydantic import ValidationError

from fuelwatch.core.errors import UserFacingError

__all__ = ["Lazy", "LazyGroup", "UserError", "settings_message", "user_errors"]

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
        except ValidationError as exc:
            raise UserError(settings_message(exc)) from exc
        except FileNotFoundError as exc:
            raise UserError(f"{exc.filename or 'file'}: {exc.strerror}") from exc
        except PermissionError as exc:
            raise UserError(f"{exc.filename or 'file'}: {exc.strerror}") from exc
        except KeyboardInterrupt:
            sys.exit(130)

    return wrapper


def settings_message(exc: ValidationError) -> str:
    """A settings error as lines an operator can act on, without the values themselves
    (pydantic's own text repeats the input, which may be a secret)."""
    lines = []
    for error in exc.errors(include_url=False, include_input=False):
        where = ".".join(str(p) for p in error["loc"])
        message = str(error["msg"]).removeprefix("Value error, ")
        lines.append(f"{where}: {message}" if where else message)
    return f"invalid {exc.title} settings:\n" + "\n".join(lines)


@dataclass(frozen=True, slots=True)
class Lazy:
    """A subcommand imported only when it runs: ``target`` is ``module:attribute``."""

    target: str
    help: str
    missing_hint: str = ""  # shown when the module's dependencies are not installed


class LazyGroup(click.Group):
    """A click group whose subcommands come from a table and are imported on use.

    ``--help`` lists them from the table without importing anything, so the command list is
    the same on a station box that has only the gateway install.
    """

    def __init__(self, *args: Any, lazy: Mapping[str, Lazy], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lazy = dict(lazy)

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self.lazy})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        entry = self.lazy.get(cmd_name)
        if entry is None:
            return super().get_command(ctx, cmd_name)
        module_name, _, attr = entry.target.partition(":")
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name and exc.name.split(".")[0] == "fuelwatch":
                raise
            hint = entry.missing_hint or _inherited_hint(ctx) or "a dependency is missing"
            raise UserError(f"`{cmd_name}` needs {exc.name}: {hint}") from exc
        command = getattr(module, attr)
        if not isinstance(command, click.Command):
            raise TypeError(f"{entry.target} is not a click command")
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, self.lazy[name].help) for name in sorted(self.lazy)]
        rows += [
            (name, cmd.get_short_help_str())
            for name in super().list_commands(ctx)
            if name not in self.lazy and (cmd := super().get_command(ctx, name)) is not None
        ]
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(sorted(rows))


def _inherited_hint(ctx: click.Context) -> str:
    """The hint of the table entry this group itself came from (``cloud`` -> ``cloud ingest``).

    ``fuelwatch cloud`` imports fine on a station box (it is only a table); the hint for its
    services' missing packages is the one the root's table gives ``cloud``.
    """
    parent = ctx.parent
    if parent is None or ctx.info_name is None or not isinstance(parent.command, LazyGroup):
        return ""
    entry = parent.command.lazy.get(ctx.info_name)
    return entry.missing_hint if entry is not None else ""
