"""Only ``fuelwatch.*``: no second copy of a side through the repository root.

pytest puts the repository root on ``sys.path`` (``tests`` is a package there), and the
sides' folders ``core/``, ``gateway/``, ``cloud/``, ``sim/`` sit at that root. So a stray
``import gateway`` would succeed in a test run and load a second copy of ``fuelwatch.gateway``
(other classes, other registries, other module state) — and fail in a deployment, where only
``fuelwatch`` is installed. ``guard()`` makes such an import fail at once, with the fix in the
message; ``top_level_copies()`` finds any that got in another way.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import sys
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType

__all__ = ["SIDES", "TopLevelCopyError", "guard", "top_level_copies"]

ROOT = Path(__file__).resolve().parents[2]
SIDES = ("core", "gateway", "cloud", "sim")


class TopLevelCopyError(ImportError):
    pass


def _in_repository(path: str | None) -> bool:
    return path is not None and Path(path).resolve().is_relative_to(ROOT)


class _Guard(importlib.abc.MetaPathFinder):
    """Refuses the sides' folders as top-level packages; every other import is left alone."""

    def find_spec(
        self,
        fullname: str,
        path: Sequence[str] | None,
        target: ModuleType | None = None,
    ) -> importlib.machinery.ModuleSpec | None:
        if path is not None or fullname not in SIDES:
            return None
        spec = importlib.machinery.PathFinder.find_spec(fullname)
        if spec is None or not _in_repository(spec.origin):
            return None  # not our folder (another distribution's package is not our business)
        raise TopLevelCopyError(
            f"import {fullname!r} loads {spec.origin}, a second copy of fuelwatch.{fullname} "
            f"(the repository root is on sys.path in tests only): import fuelwatch.{fullname}",
            name=fullname,
        )


def guard() -> None:
    """Install the guard ahead of the path finder (idempotent); refuse if it is too late."""
    if not any(isinstance(f, _Guard) for f in sys.meta_path):
        sys.meta_path.insert(0, _Guard())
    loaded = top_level_copies()
    if loaded:
        raise TopLevelCopyError(f"already imported from the repository root: {loaded}")


def top_level_copies() -> list[str]:
    """Modules loaded from the sides' folders under a top-level name (``gateway.spool``)."""
    return sorted(
        name
        for name, module in list(sys.modules.items())
        if name.split(".")[0] in SIDES and _in_repository(getattr(module, "__file__", None))
    )
