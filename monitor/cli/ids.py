"""The ids the CLI shows and takes: a development's short id, and the checks of ids given on the command line.

Light on purpose (no store, app or template import): every command that takes an id imports it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

from monitor.errors import UsageError

if TYPE_CHECKING:
    from monitor.store.db import Tx

SHORT_ID_LENGTH = 8
MIN_ID_PREFIX = 4  # `ack` takes the shown id or at least this many of its first characters
SHOWN_IDS = 20  # an error naming the known ids lists this many, then "and N more"


def short_id(key: str) -> str:
    """The id ``history``, ``status`` and ``outbox`` show for a development and ``ack`` accepts: the first 8 hex
    characters of the SHA-256 of its key, so the same development has the same id in every database and replay."""
    return _id_hash(key)[:SHORT_ID_LENGTH]


def _id_hash(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def listed(ids: Iterable[str], limit: int = SHOWN_IDS) -> str:
    """``a, b, c``; beyond ``limit`` ids, the first ``limit`` and "and N more"; "none" for no id."""
    names = list(ids)
    if not names:
        return "none"
    more = f" and {len(names) - limit} more" if len(names) > limit else ""
    return ", ".join(names[:limit]) + more


def check_ids(kind: str, given: Iterable[str], known: Sequence[str], hint: str = "") -> None:
    """Raise UsageError (exit 2) naming the ``given`` ids that are not ``known``, and the known ones."""
    unknown = [g for g in given if g not in known]
    if unknown:
        names = ", ".join(repr(u) for u in unknown)
        raise UsageError(f"unknown {kind} id{'s' if len(unknown) > 1 else ''} {names}; the configured {kind} ids: "
                         f"{listed(known)}{hint}")


def find_development(tx: Tx, given: str) -> str:
    """The key of the development ``given`` names: its short id (or at least 4 of its first characters), its
    full key, or its stored number. UsageError (exit 2) when it names none, or more than one."""
    developments = tx.developments()
    if any(dev.key == given for dev in developments):
        return given
    text = given.strip().lower()
    matches = []
    if len(text) >= MIN_ID_PREFIX and all(c in "0123456789abcdef" for c in text):
        matches = [dev for dev in developments if _id_hash(dev.key).startswith(text)]
    if text.isdigit():  # the stored row number, as `ack` took it before ids were shown
        record = tx.development_record(int(text))
        if record is not None and all(dev.key != record.key for dev in matches):
            matches += [dev for dev in developments if dev.key == record.key]
    if len(matches) == 1:
        return matches[0].key
    if matches:
        names = "; ".join(f"{short_id(dev.key)} {dev.key}" for dev in matches[:SHOWN_IDS])
        raise UsageError(f"development id {given!r} is ambiguous: it names {len(matches)} developments ({names}); "
                         "give more characters of the id, or the full key")
    newest = [short_id(dev.key) for dev in reversed(developments)]
    raise UsageError(f"no development {given!r}; the stored development ids, newest first: {listed(newest)} "
                     "(`monitor history` shows them with their titles)")
