"""Reading a CSV file a person made (Excel, a script, an export): by the header's column names,
with the delimiter sniffed (Excel in much of Europe writes ``;``), and every bad row reported at
once with its line number, so that one pass over the file shows everything there is to fix."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from loguru import logger

from agent.errors import UsageError

if TYPE_CHECKING:
    import _csv

DELIMITERS = (",", ";", "\t", "|")


@dataclass(frozen=True)
class CsvRow:
    """One record of the file: ``line`` is where it starts (1 is the header)."""

    line: int
    values: dict[str, str]

    def get(self, column: str) -> str:
        return self.values.get(column, "")


@dataclass
class CsvTable:
    rows: list[CsvRow]
    problems: list[tuple[int, str]] = field(default_factory=list)
    delimiter: str = ","
    columns: list[str] = field(default_factory=list)

    def add(self, line: int, message: str) -> None:
        self.problems.append((line, message))


class BadRows(UsageError):
    """A file with bad rows: every one of them, by line; nothing of the file was applied."""

    code = "BadRows"

    def __init__(self, path: Path, problems: Iterable[tuple[int, str]], *, outcome: str = "nothing was imported",
                 unit: str = "line") -> None:
        ordered = sorted(problems)
        lines = "\n".join(f"  {unit} {line}: {message}" for line, message in ordered)
        super().__init__(f"{path.name}: {len(ordered)} problem(s); {outcome}. Fix them and import the file again:"
                         f"\n{lines}")
        self.problems = ordered


def column_key(name: str) -> str:
    """A header cell as a column name: case, surrounding blanks, spaces and dashes do not matter."""
    return "_".join(name.strip().casefold().replace("-", " ").split())


def read_csv(path: Path, *, required: Sequence[str], optional: Sequence[str] = (),
             aliases: Mapping[str, str] | None = None) -> CsvTable:
    """The rows of ``path`` by column name. Problems (a missing or unknown column, a row with the
    wrong number of fields, a quoting error) are collected in the table, not raised: the caller
    adds its own per row and raises :class:`BadRows` once."""
    text = _text(path)
    delimiter = sniff_delimiter(text)
    table = CsvTable([], delimiter=delimiter)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    header = _next_record(reader, table)
    while header is not None and not any(c.strip() for c in header[1]):
        header = _next_record(reader, table)
    if header is None:
        table.add(1, f"the file is empty; its first line must name the columns ({', '.join(required)})")
        return table
    header_line, cells = header
    columns = [(aliases or {}).get(column_key(c), column_key(c)) for c in cells]
    if not _check_header(table, header_line, columns, required, optional):
        return table
    table.columns = columns
    while (record := _next_record(reader, table)) is not None:
        line, cells = record
        if not any(c.strip() for c in cells):
            continue
        extra = cells[len(columns):]
        if len(cells) < len(columns) or any(c.strip() for c in extra):
            table.add(line, f"{len(cells)} field(s) where the header has {len(columns)} (separated by "
                            f"{_name(delimiter)}; a value holding one needs double quotes around it)")
            continue
        table.rows.append(CsvRow(line, {c: v.strip() for c, v in zip(columns, cells, strict=False) if c}))
    return table


def sniff_delimiter(text: str) -> str:
    """The delimiter of the header line: the candidate it holds most of outside quotes (``,`` if none)."""
    first = next((line for line in text.splitlines() if line.strip()), "")
    counts = dict.fromkeys(DELIMITERS, 0)
    quoted = False
    for char in first:
        if char == '"':
            quoted = not quoted
        elif not quoted and char in counts:
            counts[char] += 1
    best = max(DELIMITERS, key=lambda d: counts[d])
    return best if counts[best] else ","


def _text(path: Path) -> str:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror or exc}") from None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        # Excel's plain "CSV" (not "CSV UTF-8") is written in the Windows code page.
        logger.info("{} is not UTF-8; read as Windows-1252", path.name)
        return data.decode("cp1252", errors="replace")


def _next_record(reader: _csv.Reader, table: CsvTable) -> tuple[int, list[str]] | None:
    """The next record and the line it starts on; a quoting error is a problem of that line."""
    while True:
        start = reader.line_num + 1
        try:
            return start, next(reader)
        except StopIteration:
            return None
        except csv.Error as exc:
            table.add(start, f"quoting error ({exc}): a value that opens a double quote must close it, and a "
                             "double quote inside a quoted value is written twice")


def _check_header(table: CsvTable, line: int, columns: list[str], required: Sequence[str],
                  optional: Sequence[str]) -> bool:
    known = list(required) + list(optional)
    ok = True
    missing = [c for c in required if c not in columns]
    if missing:
        table.add(line, f"no column {', '.join(missing)}: the first line must name the columns "
                        f"({', '.join(required)} needed; {', '.join(optional) or 'nothing else'} optional)")
        ok = False
    unknown = [c for c in columns if c and c not in known]
    if unknown:
        table.add(line, f"unknown column(s) {', '.join(unknown)}; the columns are {', '.join(known)}")
        ok = False
    doubled = sorted({c for c in columns if c and columns.count(c) > 1})
    if doubled:
        table.add(line, f"column(s) {', '.join(doubled)} named twice")
        ok = False
    return ok


def _name(delimiter: str) -> str:
    return {"\t": "tabs", ",": "commas", ";": "semicolons", "|": "bars"}[delimiter]
