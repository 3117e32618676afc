"""Benchmark: text cleaning of hostile item text is linear in its size (not collected by pytest).

Times ``monitor.ingest.parse.plain_text`` on adversarial inputs (unclosed ``<``, runs of ``<script>`` with no
closing tag, unterminated tags, entity runs, deep nesting) at 1x, 4x and 16x a base size, beside the
regex-based cleaner the project used before (``<[^>]*>`` after a lazy ``<script>.*?</script>``), which rescans
to the end of the text for every ``<``. Run: ``.venv/bin/python tests/benchmarks/text_bench.py [--base 40000]``.
The ratio column is time(16x) / time(1x): about 16 for linear work, about 256 for quadratic.
"""

from __future__ import annotations

import argparse
import html
import re
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from monitor.ingest.parse import plain_text

_OLD_SCRIPT = re.compile(r"<(script|style)\b.*?</\1\s*>", re.I | re.S)
_OLD_TAG = re.compile(r"<[^>]*>")

INPUTS = {
    "unclosed <": "<",
    "<script> runs": "<script>",
    "unterminated <p": "<p",
    "entity runs": "&amp;&#x41;&bogus;",
    "deep nesting": "<div><b>",
    "10 MiB of text": "word ",
}


def old_clean(value: str) -> str:
    return html.unescape(_OLD_TAG.sub("", _OLD_SCRIPT.sub(" ", value)))


def timed(function, text: str) -> float:
    start = time.perf_counter()
    function(text)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--base", type=int, default=20_000, help="characters at 1x")
    parser.add_argument("--old-limit", type=int, default=80_000, help="largest input given to the old cleaner")
    args = parser.parse_args()
    print(f"{'input':18} {'1x ms':>9} {'4x ms':>9} {'16x ms':>9} {'ratio':>6}   old cleaner 1x / 4x ms")
    for name, unit in INPUTS.items():
        size = 10 * 1024 * 1024 // 16 if name.startswith("10 MiB") else args.base  # 16x is 10 MiB
        texts = [unit * max(1, size * k // len(unit)) for k in (1, 4, 16)]
        new = [timed(plain_text, t) * 1000 for t in texts]
        old = [timed(old_clean, t) * 1000 for t in texts[:2] if len(t) <= args.old_limit]
        old_text = " / ".join(f"{ms:.0f}" for ms in old) or "-"
        print(f"{name:18} {new[0]:9.1f} {new[1]:9.1f} {new[2]:9.1f} {new[2] / max(new[0], 1e-6):6.1f}   {old_text}")


if __name__ == "__main__":
    main()
