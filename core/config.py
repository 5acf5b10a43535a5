"""Load YAML files into pydantic models with errors a person can act on.

Every error names the file, the line and the field (``profiles/x.yaml:14: registers[3].type:
Input should be 'u16', 'i16', ...``), never a traceback. Used for gateway configs, device
profiles and rule files alike.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from fuelwatch.core.errors import UserFacingError

__all__ = [
    "ConfigError",
    "SettingsError",
    "decode_utf8",
    "load_yaml",
    "load_yaml_model",
    "settings_from_env",
    "validate_yaml_model",
]

M = TypeVar("M", bound=BaseModel)
S = TypeVar("S", bound=BaseModel)


class ConfigError(UserFacingError, ValueError):
    """A configuration file that cannot be used; the message says where and why."""

    def __init__(self, path: Path | str, problems: list[str]) -> None:
        self.path = Path(path)
        self.problems = problems
        super().__init__("\n".join(problems))


def _line_of(node: yaml.Node | None, loc: tuple[int | str, ...]) -> int | None:
    """Follow a pydantic error location through the YAML node tree to a 1-based line."""
    line = node.start_mark.line + 1 if node is not None else None
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                if isinstance(key, yaml.ScalarNode) and key.value == str(part):
                    line, node = key.start_mark.line + 1, value
                    break
            # no such key: a discriminated-union tag in the location; skip it
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int):
            if part >= len(node.value):
                return line
            node = node.value[part]
            line = node.start_mark.line + 1
        else:
            return line
    return line


def _field_path(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


def decode_utf8(path: Path, raw: bytes) -> str:
    """The file's text, or a ConfigError naming the line of the first byte that is not UTF-8
    (a file saved as GBK by a Windows editor is the usual cause)."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        byte = f"byte 0x{raw[exc.start]:02x} at offset {exc.start}"
        problem = f"{path}:{line}: not UTF-8 ({byte}); save the file as UTF-8"
        raise ConfigError(path, [problem]) from exc


def load_yaml(path: Path) -> tuple[Any, yaml.Node | None]:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ConfigError(path, [f"{path}: cannot read: {exc.strerror}"]) from exc
    text = decode_utf8(path, raw)
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark is not None else str(path)
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(path, [f"{where}: not valid YAML: {problem}"]) from exc
    return data, node


def validate_yaml_model(
    model: type[M], data: Any, node: yaml.Node | None, path: Path, *, context: Any = None
) -> M:
    try:
        return model.model_validate(data if data is not None else {}, context=context)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            loc = tuple(
                p for p in err["loc"] if not (isinstance(p, str) and p.startswith("function-"))
            )
            line = _line_of(node, loc)
            where = f"{path}:{line}" if line else str(path)
            problems.append(f"{where}: {_field_path(loc)}: {err['msg']}")
        raise ConfigError(path, problems) from exc


def load_yaml_model(model: type[M], path: Path | str, *, context: Any = None) -> M:
    path = Path(path)
    data, node = load_yaml(path)
    return validate_yaml_model(model, data, node, path, context=context)


class SettingsError(UserFacingError, ValueError):
    """Environment settings that cannot be used; the message names each variable."""


def settings_from_env(settings_class: type[S]) -> S:
    """``settings_class()`` (pydantic settings read from the environment), or a
    ``SettingsError`` naming each bad variable (``FUELWATCH_API_PORT: Input should be a valid
    integer``) instead of a traceback."""
    try:
        return settings_class()
    except ValidationError as exc:
        failing = _settings_class_named(settings_class, exc.title)
        config: Any = failing.model_config
        prefix = str(config.get("env_prefix", ""))
        nested = str(config.get("env_nested_delimiter") or "__")
        problems = [
            f"{prefix}{nested.join(str(p) for p in e['loc']).upper()}: {e['msg']}"
            if e["loc"]
            else str(e["msg"]).removeprefix("Value error, ")  # a check across several variables
            for e in exc.errors()
        ]
        raise SettingsError("invalid settings:\n" + "\n".join(problems)) from exc


def _settings_class_named(root: type[BaseModel], name: str) -> type[BaseModel]:
    """The settings class an error is about: ``root`` or one it builds for a field (a nested
    settings object reads its own variables, under its own prefix)."""
    for field in root.model_fields.values():
        kind = field.annotation
        if isinstance(kind, type) and issubclass(kind, BaseModel) and kind.__name__ == name:
            return kind
    return root
