"""Write a benchmark's block into docs/performance.md (each script owns one marked block)."""

from __future__ import annotations

from pathlib import Path

__all__ = ["record"]

DOC = Path(__file__).resolve().parents[1] / "docs" / "performance.md"


def record(script: str, report: str, doc: Path = DOC) -> None:
    """Replace the block between ``<!-- script -->`` markers, or append it."""
    text = doc.read_text(encoding="utf-8") if doc.exists() else "# Performance\n"
    start, end = f"<!-- {script} -->", f"<!-- /{script} -->"
    block = f"{start}\n{report.strip()}\n{end}"
    if start in text:
        text = text.split(start)[0] + block + text.split(end, 1)[1]
    else:
        text = text.rstrip() + "\n\n" + block + "\n"
    doc.write_text(text, encoding="utf-8")
    print(f"recorded in {doc}")
