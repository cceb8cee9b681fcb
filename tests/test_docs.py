"""The README's promises that code can check: every setting documented, with its real default."""

from __future__ import annotations

import re

from assistant.config import Settings
from conftest import ROOT


def _config_rows() -> list[tuple[list[str], str]]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    table = text.split("## Configuration", 1)[1].split("\n## ", 1)[0]
    rows = []
    for line in table.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        names = re.findall(r"`([A-Z][A-Z0-9_]+)`", cells[0]) if len(cells) == 3 else []
        if names:
            rows.append((names, cells[1]))
    return rows


def _same(documented: str, default: object) -> bool:
    try:
        return float(documented) == float(default)  # "5" documents 5.0
    except (TypeError, ValueError):
        return documented == str(default)


def test_readme_configuration_table_matches_settings() -> None:
    documented: dict[str, str | None] = {}
    for names, defaults in _config_rows():
        parts = re.split(r"\s*/\s*|,\s+", defaults) if len(names) > 1 else [defaults]
        if len(parts) == 1:  # one value for the whole row ("unset")
            parts = parts * len(names)
        assert len(parts) == len(names), f"README row {names}: {len(names)} names but defaults {defaults!r}"
        for name, part in zip(names, parts, strict=True):
            value = re.fullmatch(r"`([^`]*)`", part)
            documented[name] = value.group(1) if value else None
    fields = Settings.model_fields
    assert set(documented) == {name.upper() for name in fields}, "README and Settings list different keys"
    for name, field in fields.items():
        shown = documented[name.upper()]
        if field.default is not None:  # None defaults are resolved at run time; the README says to what
            assert shown is not None and _same(shown, field.default), f"{name.upper()}: README {shown!r}, code {field.default!r}"
