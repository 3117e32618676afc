"""Replay archives on disk (the format DESIGN.md defines). The only module that reads or writes them.

A directory with one sub-directory per feed id; inside, one file per fetch named by its UTC time
``YYYYMMDDTHHMMSSZ.xml`` holding the body exactly as fetched.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

_STAMP = "%Y%m%dT%H%M%SZ"


@dataclass(frozen=True, order=True)
class ArchivedFetch:
    """One archived fetch; sorts by time, then feed id, so replay order is deterministic."""

    at: datetime
    feed_id: str
    path: Path

    def body(self) -> bytes:
        return self.path.read_bytes()


def file_name(at: datetime) -> str:
    return at.astimezone(UTC).strftime(_STAMP) + ".xml"


def record(root: Path, feed_id: str, at: datetime, body: bytes) -> Path:
    """Write one fetched body; a second fetch in the same second gets a numbered suffix-free successor second."""
    folder = root / feed_id
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / file_name(at)
    path.write_bytes(body)
    return path


def read_archive(root: Path, feed_ids: set[str] | None = None) -> list[ArchivedFetch]:
    """Every archived fetch under ``root`` in time order. Files not named by the format are ignored."""
    fetches = []
    for folder in sorted(p for p in root.iterdir() if p.is_dir()):
        if feed_ids is not None and folder.name not in feed_ids:
            continue
        for path in sorted(folder.glob("*.xml")):
            try:
                at = datetime.strptime(path.stem, _STAMP).replace(tzinfo=UTC)
            except ValueError:
                continue
            fetches.append(ArchivedFetch(at, folder.name, path))
    return sorted(fetches)
