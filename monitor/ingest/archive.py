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
    """Every archived fetch under ``root`` (of the given feeds) in time order. Files not named by the format are
    ignored."""
    fetches = []
    for folder in _feed_folders(root):
        if feed_ids is None or folder.name in feed_ids:
            fetches += _fetches_in(folder)
    return sorted(fetches)


def archived_feed_ids(root: Path) -> list[str]:
    """The feed ids ``root`` holds fetches for: its folders with at least one file named by the format."""
    return [folder.name for folder in _feed_folders(root) if _fetches_in(folder)]


def _feed_folders(root: Path) -> list[Path]:
    return sorted(p for p in root.iterdir() if p.is_dir())


def _fetches_in(folder: Path) -> list[ArchivedFetch]:
    fetches = []
    for path in sorted(folder.glob("*.xml")):
        try:
            at = datetime.strptime(path.stem, _STAMP).replace(tzinfo=UTC)
        except ValueError:
            continue
        fetches.append(ArchivedFetch(at, folder.name, path))
    return fetches
