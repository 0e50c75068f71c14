"""Printing for the CLI: one JSON document with ``--json``, a readable table otherwise."""

from __future__ import annotations

import json
import sys
from typing import Any, Iterable, Sequence

from rich.console import Console
from rich.table import Table

console = Console()
err_console = Console(stderr=True)


def emit_json(document: Any) -> None:
    sys.stdout.write(json.dumps(document, indent=2, default=str, ensure_ascii=False) + "\n")


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
