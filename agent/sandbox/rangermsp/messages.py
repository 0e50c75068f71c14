"""Reading the callers' buffers and requests, and writing the answers, as the DB API describes them."""

from __future__ import annotations

import re
from dataclasses import dataclass
from xml.sax.saxutils import escape, quoteattr

from agent.sandbox.rangermsp.schema import (
    BY_DATAKIND,
    DATE_DISPLAY,
    MAX_REQUEST_BYTES,
    RAW_FIELDS,
    STATUS_TEXTS,
    TEXT_ENCODING,
    XML_ENCODING_NAME,
    Table,
)
from dbsys.safexml import UnsafeXML, parse_bytes

OPERATORS = ("=", ">", ">=", "<", "<=", "LIKE", "NOT", "NOT LIKE")


class Refused(Exception):
    """A call refused with a status code."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def decode(data: bytes) -> str:
    try:
        return data.decode(TEXT_ENCODING)
    except UnicodeDecodeError as exc:
        raise Refused(150001, f"text not in {TEXT_ENCODING}: {exc}") from None


# -- writes ------------------------------------------------------------------------------------
def parse_map(raw: bytes) -> tuple[str, str, list[str]]:
    """The quote character, the delimiter and the field names of a map buffer."""
    lines = decode(raw).split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    if len(lines) < 3 or len(lines[0]) != 1 or len(lines[1]) != 1:
        raise Refused(150001, "the map buffer must hold the quote, the delimiter, then one field name per line")
    return lines[0], lines[1], [line.strip() for line in lines[2:]]


def parse_data(raw: bytes, quote: str, delimiter: str) -> list[str]:
    """The values of a data buffer: each quoted, a quote inside doubled, separated by the delimiter."""
    text, values, i = decode(raw), [], 0
    while True:
        if i >= len(text) or text[i] != quote:
            raise Refused(150001, f"the data buffer has no opening quote at character {i}")
        i += 1
        chars = []
        while True:
            j = text.find(quote, i)
            if j < 0:
                raise Refused(150001, "the data buffer has a value without its closing quote")
            chars.append(text[i:j])
            if text.startswith(quote * 2, j):
                chars.append(quote)
                i = j + 2
                continue
            i = j + 1
            break
        values.append("".join(chars))
        if i == len(text):
            return values
        if text[i] != delimiter:
            raise Refused(150001, f"the data buffer has {text[i]!r} where the delimiter was expected")
        i += 1


# -- requests ----------------------------------------------------------------------------------
def _request_root(raw: bytes, pi_name: str, root_tag: str, wrong_root: int):
    if len(raw) > MAX_REQUEST_BYTES:
        raise Refused(150001, "the request is too large")
    text = decode(raw).split("\x00", 1)[0].strip()
    head = re.match(r"<\?" + pi_name + r"\s+version\s*=\s*\"([^\"]*)\"\s*\?>", text)
    if head is None:
        raise Refused(150005, f"the request does not start with <?{pi_name} version=\"1.0\" ?>")
    if head.group(1) != "1.0":
        raise Refused(150004, f"XML version {head.group(1)!r} is not supported")
    try:
        root = parse_bytes(text[head.end():].encode("utf-8"), max_bytes=MAX_REQUEST_BYTES, what="request")
    except UnsafeXML as exc:
        raise Refused(150001, str(exc)) from None
    if root.tag != root_tag:
        raise Refused(wrong_root, f"the root element is <{root.tag}>, not <{root_tag}>")
    return root


@dataclass
class Query:
    table: Table
    max_records: int
    groups: list[list[tuple[str, str, str]]]  # OR of ANDs of (field, op, value)


def parse_query(raw: bytes) -> Query:
    root = _request_root(raw, "commitcrmxmlqueryrequest", "CommitCRMQueryDataRequest", 110002)
    kind = root.find("Datakind")
    if kind is None or not (kind.text or "").strip():
        raise Refused(110001, "the query names no <Datakind>")
    table = BY_DATAKIND.get((kind.text or "").strip())
    if table is None:
        raise Refused(110008, f"unknown data kind {kind.text!r}")
    try:
        max_records = int((root.findtext("MaxRecordCount") or "").strip())
    except ValueError:
        raise Refused(110003, "<MaxRecordCount> is not a number") from None
    if max_records < 1:
        raise Refused(110003, "<MaxRecordCount> must be at least 1")
    groups: list[list[tuple[str, str, str]]] = [[]]
    where = root.find("Query/Where")
    expect_condition = True
    for child in (where if where is not None else []):
        if child.tag == "Link":
            link = (child.text or "").strip().upper()
            if expect_condition or link not in ("AND", "OR"):
                raise Refused(110005, f"misplaced or unknown <Link>{child.text}</Link>")
            if link == "OR":
                groups.append([])
            expect_condition = True
            continue
        if not expect_condition:
            raise Refused(110005, "two conditions without a <Link> between them")
        op = (child.get("op") or "").strip().upper()
        if op not in OPERATORS:
            raise Refused(110005, f"unknown operator {child.get('op')!r}")
        if child.tag not in table.fields:
            raise Refused(110005, f"{child.tag} is not a field of {table.datakind}")
        groups[-1].append((str(child.tag), op, child.text or ""))
        expect_condition = False
    if where is not None and len(where) and expect_condition:
        raise Refused(110005, "the filter ends with a <Link>")
    return Query(table, max_records, groups)


def matches(record: dict[str, str], query: Query) -> bool:
    return any(all(_holds(record.get(f, ""), op, v) for f, op, v in group) for group in query.groups)


def _holds(actual: str, op: str, wanted: str) -> bool:
    if op in ("LIKE", "NOT LIKE"):
        pattern = "".join(".*" if c == "%" else "." if c == "_" else re.escape(c) for c in wanted)
        found = re.fullmatch(pattern, actual, flags=re.IGNORECASE | re.DOTALL) is not None
        return found if op == "LIKE" else not found
    a: float | str
    b: float | str
    try:
        a, b = float(actual), float(wanted)
    except ValueError:
        a, b = actual.lower(), wanted.lower()
    return {"=": a == b, "NOT": a != b, ">": a > b, ">=": a >= b, "<": a < b, "<=": a <= b}[op]  # type: ignore[operator]


def parse_record_request(raw: bytes) -> tuple[str, list[str]]:
    root = _request_root(raw, "commitcrmxmlgetrecorddatarequest", "CommitCRMGetRecordDataRequest", 110002)
    rec_id = (root.findtext("GetRecordByRecId") or "").strip()
    names = [n.strip() for n in (root.findtext("SelectFieldsList") or "").split(",") if n.strip()]
    return rec_id, names


# -- answers -----------------------------------------------------------------------------------
_HEAD = f'<?xml version="1.0" encoding="{XML_ENCODING_NAME}"?>'


def query_answer(table: Table, rec_ids: list[str]) -> str:
    body = "".join(f"<RecordData><{table.rec_id_field}>{r}</{table.rec_id_field}></RecordData>" for r in rec_ids)
    return f"{_HEAD}<CommitCRMQueryDataResponse>{body}</CommitCRMQueryDataResponse>"


def record_answer(record: dict[str, str], names: list[str]) -> str:
    parts = []
    for name in names:
        value = record.get(name, "")
        if name in RAW_FIELDS:
            shown = STATUS_TEXTS.get(int(value), value) if value.lstrip("-").isdigit() else value
            parts.append(f"<{name} CmtRawData={quoteattr(value)}>{escape(shown)}</{name}>")
        else:
            parts.append(f"<{name}>{escape(value)}</{name}>")
    return f"{_HEAD}<CommitCRMGetRecordDataResponse><RecordData>{''.join(parts)}</RecordData>" \
           "</CommitCRMGetRecordDataResponse>"


__all__ = ["DATE_DISPLAY", "Query", "Refused", "matches", "parse_data", "parse_map", "parse_query",
           "parse_record_request", "query_answer", "record_answer"]
