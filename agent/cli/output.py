"""Printing for the CLI: one JSON document with ``--json``, a readable table otherwise.

The one place that decides how a table looks: drawn with rich for a person at a terminal, plain
aligned columns (the same title, columns and rows) when standard output is a pipe or a file.
Scripts and monitoring probes read the second, and they start a process for every question, so
that path does not import rich at all; neither does ``--json``.
"""

from __future__ import annotations

import errno
import json
import os
import sys
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from rich.console import Console


def on_terminal() -> bool:
    """Whether standard output is a terminal (a person reading), as opposed to a pipe or a file."""
    try:
        return sys.stdout.isatty()
    except (AttributeError, ValueError):  # no stream, or a closed one
        return False


def rich_console(*, stderr: bool = False) -> Console:
    """A rich console on standard output (or error), for what only a terminal shows."""
    from rich.console import Console

    return Console(stderr=stderr)


def emit_json(document: Any) -> None:
    """ASCII with ``\\u`` escapes: the same bytes, and no loss, whatever the output's code page."""
    sys.stdout.write(json.dumps(document, indent=2, default=str) + "\n")


def _cell(value: Any) -> str:
    return "" if value is None else str(value)


def _one_line(text: str) -> str:
    return text.replace("\r\n", " ").replace("\n", " ").replace("\r", " ").replace("\t", " ")


def table(title: str | None, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    """A titled table: drawn on a terminal, plain aligned columns otherwise; "TITLE: none" when empty."""
    cells = [[_cell(v) for v in row] for row in rows]
    if not cells:
        if on_terminal():
            rich_console().print(f"[dim]{title or 'nothing'}: none[/dim]")
        else:
            click.echo(f"{title or 'nothing'}: none")
    elif on_terminal():
        _drawn(title, columns, cells)
    else:
        plain(title, columns, cells)


def _drawn(title: str | None, columns: Sequence[str], cells: list[list[str]]) -> None:
    from rich.table import Table

    t = Table(title=title, show_lines=False, header_style="bold")
    for column in columns:
        t.add_column(column, overflow="fold")
    for row in cells:
        t.add_row(*row)
    rich_console().print(t)


def plain(title: str | None, columns: Sequence[str], cells: list[list[str]]) -> None:
    """The title, then a header and one line per row, columns aligned by two spaces; a line break
    or tab inside a value becomes a space, so a row is always one line for ``grep`` or ``awk``."""
    lines = [[_one_line(v) for v in row] for row in [list(columns), *cells]]
    widths = [max(len(line[i]) for line in lines if i < len(line)) for i in range(len(columns))]
    out = [title] if title else []
    out += ["  ".join(v.ljust(w) for v, w in zip(line, widths)).rstrip() for line in lines]
    click.echo("\n".join(out))


def note(message: str = "", *, label: str = "", style: str = "") -> None:
    """One line: ``label`` then ``message``; on a terminal the label is coloured ``style``
    (a click colour name) unless ``NO_COLOR`` is set."""
    if label and style and on_terminal() and not os.environ.get("NO_COLOR"):
        label = click.style(label, fg=style)
    click.echo(" ".join(part for part in (label, message) if part))


def done(message: str) -> None:
    """What a command did, one line, printed as it is (no markup: names and notes may hold brackets)."""
    click.echo(message)


TABLE_LIMIT = 1000
"""Above this many rows a listing is printed as tab-separated lines: a table would be unreadable."""


def tsv(columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    """Tab-separated lines, a header first; tabs and line breaks inside values become spaces."""
    out = sys.stdout
    out.write("\t".join(columns) + "\n")
    for row in rows:
        out.write("\t".join("" if v is None else str(v).replace("\t", " ").replace("\n", " ") for v in row) + "\n")


def listing(title: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """A table, or tab-separated lines past :data:`TABLE_LIMIT` rows."""
    table(title, columns, rows) if len(rows) <= TABLE_LIMIT else tsv(columns, rows)


def reader_went_away(exc: OSError) -> bool:
    """Whether ``exc`` says that the reader of our output closed its end of the pipe. POSIX says
    EPIPE; Windows' C runtime says EINVAL (its mapping of ERROR_NO_DATA), which is told apart from
    another EINVAL by standard output refusing even an empty write."""
    if isinstance(exc, BrokenPipeError):
        return True
    if os.name != "nt" or exc.errno != errno.EINVAL:
        return False
    try:
        fd = sys.stdout.fileno()
    except (OSError, ValueError):
        return False
    try:
        os.write(fd, b"")
    except OSError:
        return True
    return False
