"""The console's templates: every text key they use is translated, and nothing in them would
break the Content-Security-Policy (inline script, inline style, event handler attributes)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from fuelwatch.cloud.console.i18n import TEXT

TEMPLATES = sorted((Path(__file__).parents[2] / "cloud" / "console" / "templates").glob("*.html"))
KEY = re.compile(r"""\bt\(\s*['"]([a-z0-9_]+)['"]""")


def _known(key: str) -> bool:
    if key.endswith("_"):
        return any(t.startswith(key) for t in TEXT)
    return key in TEXT


@pytest.mark.parametrize("template", TEMPLATES, ids=lambda p: p.name)
def test_every_key_is_translated(template: Path) -> None:
    keys = set(KEY.findall(template.read_text(encoding="utf-8")))
    assert keys, template.name
    # a key ending in "_" is a prefix the template completes (``t('p_' ~ period)``)
    missing = sorted(k for k in keys if not _known(k))
    assert not missing, f"{template.name}: no text for {missing}"


@pytest.mark.parametrize("template", TEMPLATES, ids=lambda p: p.name)
def test_no_inline_script_or_style(template: Path) -> None:
    text = template.read_text(encoding="utf-8")
    assert not re.search(r"<script(?![^>]*\bsrc=)", text), "inline <script>"
    assert "<style" not in text
    assert not re.search(r"\sstyle\s*=", text), "style attribute"
    assert not re.search(r"\son[a-z]+\s*=", text), "event handler attribute"
    assert "javascript:" not in text


def test_both_languages_have_every_text() -> None:
    assert all(zh and en for zh, en in TEXT.values())
