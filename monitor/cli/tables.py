"""The CLI's tables: a Rich table fit to the terminal (ids never cut, long text wrapped or moved below), or plain
tab-separated lines when stdout is not a terminal. Rich is imported only when a table is drawn."""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Iterable, Iterator
from typing import Any

import click

from monitor.notify.text import terminal_safe


@dataclasses.dataclass(frozen=True)
class Column:
    """A table column. ``kind``: ``id`` (shown whole: never wrapped nor cut), ``short`` (never wrapped; below the
    table when the terminal is too narrow for it), ``long`` (wraps in the room the others leave; below the table
    when that room is too small) or ``note`` (long text: below the table, under its row's id, except with
    ``--wide``). ``view``: ``both``, ``narrow`` (only the default terminal table) or ``wide`` (only ``--wide``
    and plain output)."""

    name: str
    kind: str = "short"
    view: str = "both"

    def shown(self, wide: bool) -> bool:
        return self.view == "both" or self.view == ("wide" if wide else "narrow")


MIN_LONG_WIDTH = 24  # a long column with less room than this goes below the table instead
COLUMN_GAP = 2  # between two columns of the table (collapsed padding and the separator)


def _columns(columns: Iterable[str | Column]) -> list[Column]:
    """Columns given by name are short ones, and a column named "id" an id column."""
    return [c if isinstance(c, Column) else Column(c, "id" if c == "id" else "short") for c in columns]


def _cells(rows: Iterable[Iterable[Any]]) -> list[list[str]]:
    """Table cells as one line of text each, with nothing in them that could drive a terminal."""
    return [[terminal_safe("" if v is None else str(v), keep_newlines=False) for v in row] for row in rows]


def print_table(title: str, columns: Iterable[str | Column], rows: Iterable[Iterable[Any]], *,
                wide: bool = False) -> None:
    """A Rich table on a terminal, fit to its width (``wide``: every column, unwrapped, however wide); plain
    tab-separated lines otherwise (pipes, tests), with the columns of the wide table."""
    cols = _columns(columns)
    clean_rows = _cells(rows)
    if sys.stdout.isatty():
        from rich.console import Console
        from rich.measure import Measurement

        console = Console()
        table = rich_table(title, cols, clean_rows, wide=wide)
        if wide:  # as wide as the table needs: the terminal wraps or `less -S` scrolls the rest
            needed = Measurement.get(console, console.options.update_width(1_000_000), table).maximum
            console = Console(width=max(console.width, needed))
        console.print(table)
        return
    shown = [i for i, c in enumerate(cols) if c.shown(wide=True)]
    click.echo(f"# {title}")
    click.echo("\t".join(cols[i].name for i in shown))
    for row in clean_rows:
        click.echo("\t".join(row[i] for i in shown))


def rich_table(title: str, columns: Iterable[str | Column], rows: Iterable[Iterable[Any]], *,
               wide: bool = False) -> Any:
    """A Rich renderable: a table that fits the console it is printed on. Cells are text, never markup (a
    headline holding "[/x]" is shown as written) nor terminal control (escape sequences are removed). Id columns
    are never cut: the long column wraps in the room left, and what does not fit goes below the table, under
    its row's id. With ``wide``, every column of the wide view, unwrapped."""
    return _TableView(title, _columns(columns), _cells(rows), wide)


class _TableView:
    def __init__(self, title: str, columns: list[Column], rows: list[list[str]], wide: bool) -> None:
        self.title, self.columns, self.rows, self.wide = title, columns, rows, wide

    def _width(self, i: int) -> int:
        return max([len(self.columns[i].name), *(len(row[i]) for row in self.rows)])

    def _layout(self, max_width: int) -> tuple[list[int], list[int]]:
        """(columns in the table, columns below it), as indexes."""
        cols = self.columns
        if self.wide:
            return [i for i, c in enumerate(cols) if c.shown(wide=True)], []
        shown = [i for i, c in enumerate(cols) if c.shown(wide=False)]
        below = [i for i in shown if cols[i].kind == "note"]
        inline = [i for i in shown if cols[i].kind != "note"]
        fixed = [i for i in inline if cols[i].kind != "long"]
        longs = [i for i in inline if cols[i].kind == "long"]
        room = max_width - sum(self._width(i) for i in fixed) - COLUMN_GAP * (len(fixed) + len(longs) - 1)
        while room < (MIN_LONG_WIDTH * len(longs) if longs else 0):
            shorts = [i for i in fixed if cols[i].kind == "short"]
            if longs:  # the long text goes below before anything else does
                below += longs
                room += COLUMN_GAP * len(longs)
                longs = []
            elif shorts:
                fixed.remove(shorts[-1])
                below.append(shorts[-1])
                room += self._width(shorts[-1]) + COLUMN_GAP
            else:
                break  # ids alone are wider than the terminal: nothing else to move
        return [i for i in inline if i in fixed or i in longs], sorted(below)

    def _table(self, inline: list[int]) -> Any:
        from rich import box
        from rich.table import Table
        from rich.text import Text

        table = Table(title=Text(self.title), box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False,
                      collapse_padding=True)
        for i in inline:
            column = self.columns[i]
            if self.wide or column.kind in ("id", "short"):
                table.add_column(Text(column.name), no_wrap=True, overflow="fold",
                                 min_width=self._width(i) if column.kind == "id" else None)
            else:
                table.add_column(Text(column.name), overflow="fold")
        for row in self.rows:
            table.add_row(*(Text(row[i]) for i in inline))
        return table

    def __rich_measure__(self, console: Any, options: Any) -> Any:
        from rich.measure import Measurement

        return Measurement.get(console, options, self._table(self._layout(options.max_width)[0]))

    def __rich_console__(self, console: Any, options: Any) -> Iterator[Any]:
        from rich.padding import Padding
        from rich.text import Text

        inline, below = self._layout(options.max_width)
        yield self._table(inline)
        for row in self.rows:
            notes = [(self.columns[i].name, row[i]) for i in below if row[i]]
            if notes:
                yield Text(f"#{row[0]}" if row[0].isdigit() else row[0], style="bold", overflow="fold")
                for name, text in notes:
                    yield Padding(Text(f"{name}: {text}", overflow="fold"), (0, 0, 0, 4))
