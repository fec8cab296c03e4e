"""How a report names a file: never by this machine's absolute path (reports are committed and read on
other machines), but from where anyone can find it again."""

from __future__ import annotations

from pathlib import Path

_REPO = Path(__file__).resolve().parents[1]


def shown_path(path: Path | str) -> str:
    """``path`` inside an installed package as ``package/...`` (e.g. ``pydicom/data/test_files/x.dcm``),
    inside this repository relative to its root, else its file name."""
    p = Path(path).resolve()
    parts = p.parts
    for marker in ("site-packages", "dist-packages"):
        if marker in parts:
            return "/".join(parts[parts.index(marker) + 1:])
    try:
        return p.relative_to(_REPO).as_posix()
    except ValueError:
        return p.name
