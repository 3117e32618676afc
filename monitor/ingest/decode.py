"""Content-Encoding decoding of a fetched body with a hard cap on the *decoded* size.

We decompress ourselves, in bounded steps, so a gzip bomb is cut at the cap rather than inflated first: each
decompress call produces at most ``INFLATE_STEP`` bytes and the running total is checked after every step.
Pure: bytes in, bytes out.
"""

from __future__ import annotations

import zlib

from monitor.ingest.fetchtypes import FetchProblem, size

INFLATE_STEP = 64 * 1024  # decoded bytes produced per decompress call: bounds memory per step


class BoundedDecoder:
    """Feed it the raw body chunk by chunk (:meth:`feed`), then take :meth:`body`. Raises :class:`FetchProblem`
    (``body over 10 MiB``, ``corrupt compressed body (...)``, ``unsupported content-encoding '...'``)."""

    def __init__(self, encoding: str, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.size = 0
        self.parts: list[bytes] = []
        encoding = encoding.strip().lower()
        self.inflater: zlib._Decompress | None
        if encoding in ("", "identity"):
            self.inflater = None
        elif encoding in ("gzip", "x-gzip"):
            self.inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
        elif encoding == "deflate":
            self.inflater = zlib.decompressobj()
        else:
            raise FetchProblem(f"unsupported content-encoding {encoding[:40]!r}")

    def _keep(self, data: bytes) -> None:
        self.size += len(data)
        if self.size > self.max_bytes:
            raise FetchProblem(f"body over {size(self.max_bytes)}")
        self.parts.append(data)

    def feed(self, raw: bytes) -> None:
        if self.inflater is None:
            self._keep(raw)
            return
        try:
            data = self.inflater.decompress(raw, INFLATE_STEP)
            self._keep(data)
            while self.inflater.unconsumed_tail:
                self._keep(self.inflater.decompress(self.inflater.unconsumed_tail, INFLATE_STEP))
        except zlib.error as exc:
            raise FetchProblem(f"corrupt compressed body ({exc})")

    def body(self) -> bytes:
        if self.inflater is not None:
            try:
                self._keep(self.inflater.flush())
            except zlib.error as exc:
                raise FetchProblem(f"corrupt compressed body ({exc})")
        return self.parts[0] if len(self.parts) == 1 else b"".join(self.parts)
