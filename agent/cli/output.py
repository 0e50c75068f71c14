"""Printing for the CLI: one JSON document with ``--json``, a readable table otherwise."""

from __future__ import annotations

import errno
import json
import os
import sys
from collections.abc import Iterable, Sequence
from typing import Any

from rich.console import Console
from rich.table import Table

console = Console()
err_console = Console(stderr=True)


def emit_json(document: Any) -> None:
    """ASCII with ``\\u`` escapes: the same bytes, and no loss, whatever the output's code page."""
    sys.stdout.write(json.dumps(document, indent=2, default=str) + "\n")


def table(title: str | None, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    t = Table(title=title, show_lines=False, header_style="bold")
    for column in columns:
        t.add_column(column, overflow="fold")
    count = 0
    for row in rows:
        t.add_row(*["" if v is None else str(v) for v in row])
        count += 1
    if count:
        console.print(t)
    else:
        console.print(f"[dim]{title or 'nothing'}: none[/dim]")


def done(message: str) -> None:
    console.print(message, highlight=False)


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
