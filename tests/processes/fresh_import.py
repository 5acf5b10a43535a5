"""Import one fuelwatch module at a time, each in a process that has imported nothing of ours.

Run as ``python -I tests/processes/fresh_import.py`` (``-I``: neither the script's folder nor
the working directory on ``sys.path``, so only the installed ``fuelwatch`` is importable), with
module names on stdin, one a line (arguments: folders to put first on ``sys.path``, for the
test of the check itself). It prints one JSON line per module.

The parent imports third-party libraries only (SQLAlchemy, pydantic, FastAPI ... — they cannot
register or resolve our tables), checks that no ``fuelwatch`` module is loaded, then forks a
child per module: the child imports that one module, calls ``configure_mappers()`` and resolves
every foreign key of every declarative metadata that is loaded, exactly what a service's first
query does. A fresh ``python`` per module would measure the same thing at ten times the cost
(the third-party imports are most of it). Two children run at a time.

Not a test module: ``tests/processes/test_imports.py`` runs it.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import os
import sys
import traceback
from typing import Any

# Heavy third-party imports shared by every child; only those installed are loaded.
PRELOAD = (
    "sqlalchemy",
    "sqlalchemy.orm",
    "sqlalchemy.dialects.sqlite",
    "sqlalchemy.dialects.postgresql",
    "pydantic",
    "pydantic_settings",
    "fastapi",
    "starlette.applications",
    "uvicorn",
    "httpx",
    "click",
    "yaml",
    "alembic",
    "alembic.config",
    "cryptography.hazmat.primitives.asymmetric.ed25519",
    "cryptography.x509",
    "paho.mqtt.client",
    "pymodbus",
    "openpyxl",
    "argon2",
    "jwt",
    "orjson",
    "prometheus_client",
    "h11",
)
PARALLEL = 2
MAX_ERROR = 16_000


def check(name: str) -> dict[str, Any]:
    """Import ``name``, configure every mapper, resolve every foreign key."""
    try:
        importlib.import_module(name)
    except ModuleNotFoundError as exc:
        missing = (exc.name or "").split(".")[0]
        if missing and not missing.startswith("fuelwatch"):
            return {"module": name, "missing": missing, "error": f"{type(exc).__name__}: {exc}"}
        return {"module": name, "error": traceback.format_exc()}
    except BaseException:  # SystemExit too: a module that exits on import is a finding
        return {"module": name, "error": traceback.format_exc()}
    try:
        from sqlalchemy.orm import DeclarativeBase, configure_mappers  # noqa: PLC0415

        configure_mappers()
        bases = DeclarativeBase.__subclasses__()
        tables = 0
        for base in bases:
            for table in base.metadata.sorted_tables:
                tables += 1
                for fk in table.foreign_keys:
                    _ = fk.column  # NoReferencedTableError if the referenced table is not loaded
    except Exception:
        return {"module": name, "error": traceback.format_exc()}
    return {
        "module": name,
        "ok": True,
        "bases": [f"{b.__module__}.{b.__qualname__}" for b in bases],
        "tables": tables,
    }


def _child(name: str, fd: int) -> None:
    try:
        result = check(name)
    except BaseException:
        result = {"module": name, "error": traceback.format_exc()}
    if len(result.get("error", "")) > MAX_ERROR:  # one pipe buffer: the parent reads after wait
        result["error"] = "..." + result["error"][-MAX_ERROR:]
    os.write(fd, json.dumps(result).encode())
    os.close(fd)


def _reap(running: dict[int, tuple[str, int]]) -> None:
    pid, status = os.wait()
    name, fd = running.pop(pid)
    chunks = []
    while chunk := os.read(fd, 65536):
        chunks.append(chunk)
    os.close(fd)
    if chunks:
        print(b"".join(chunks).decode(), flush=True)
    else:
        code = os.waitstatus_to_exitcode(status)
        print(json.dumps({"module": name, "error": f"child died (exit {code})"}), flush=True)


def main() -> None:
    sys.path[:0] = sys.argv[1:]  # folders of extra modules (the test of this check)
    for lib in PRELOAD:
        if importlib.util.find_spec(lib.split(".")[0]) is not None:
            importlib.import_module(lib)
    loaded = sorted(m for m in sys.modules if m == "fuelwatch" or m.startswith("fuelwatch."))
    if loaded:
        raise SystemExit(f"the parent must not import fuelwatch, has: {loaded}")
    names = [line.strip() for line in sys.stdin if line.strip()]
    running: dict[int, tuple[str, int]] = {}
    for name in names:
        if len(running) >= PARALLEL:
            _reap(running)
        read_fd, write_fd = os.pipe()
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:  # the child: one module, then out without running the parent's cleanup
            os.close(read_fd)
            code = 0
            try:
                _child(name, write_fd)
            except BaseException:
                code = 1
            finally:
                sys.stdout.flush()
                sys.stderr.flush()
                os._exit(code)
        os.close(write_fd)
        running[pid] = (name, read_fd)
    while running:
        _reap(running)


if __name__ == "__main__":
    main()
