"""Reading the callers' buffers and requests, and writing the answers, as the vendor's code sends
and reads them (facts §3.1, §4.1, §4.3, §4.4). What the vendor never sends is refused.

The vendor's query XML is not well-formed (a raw ``<`` in ``op="<"``, values not escaped), so
requests are read with patterns, not with an XML parser, exactly as tolerant as the vendor needs.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from xml.sax.saxutils import escape, quoteattr

from agent.sandbox.rangermsp.schema import BY_DATAKIND, MAX_REQUEST_BYTES, RAW_FIELDS, STATUS_TEXTS, Table

# The vendor's operator strings (facts §4.1), matched case-insensitively (PyCommit writes LIKE).
OPERATORS = ("=", ">", ">=", "<", "<=", "like", "not", "not like")


class Refused(Exception):
    """A call refused: ``status`` for the ``int*`` status, ``codes`` for ResultCodes / the codes buffer."""

    def __init__(self, status: int, message: str, codes: tuple[int, ...] = ()) -> None:
        super().__init__(message)
        self.status, self.codes = status, codes


# -- writes ------------------------------------------------------------------------------------
def parse_map(text: str) -> tuple[str, str, list[str]]:
    """The quote, the delimiter and the field ids of a map buffer (facts §3.1; a trailing LF, as
    PyCommit sends it, §3.2, is tolerated)."""
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    if len(lines) < 3 or len(lines[0]) != 1 or len(lines[1]) != 1:
        raise Refused(1003, "the map buffer must hold the quote, the delimiter, then one field id per line")
    return lines[0], lines[1], [line.strip() for line in lines[2:]]


def parse_data(text: str, quote: str, delimiter: str) -> list[str]:
    """The values of a data buffer: ``'v1','v2'``, nothing escaped (facts §3.1). A quote inside a
    value stays as it is unless it is followed by the delimiter and a quote (how the engine reads
    that is unverified: the simulator's choice)."""
    if text.endswith(delimiter):  # PyCommit's trailing delimiter (facts §3.2)
        text = text[:-1]
    if len(text) < 2 or not (text.startswith(quote) and text.endswith(quote)):
        raise Refused(1002, "the data buffer must hold quoted values separated by the delimiter")
    return text[1:-1].split(quote + delimiter + quote)


# -- requests ----------------------------------------------------------------------------------
def _body(text: str, pi_name: str, exact_pi: str | None = None) -> str:
    if len(text) > MAX_REQUEST_BYTES:
        raise Refused(2000, "the request is too large", (150001,))
    text = text.split("\x00", 1)[0]
    head = re.search(r"<\?" + pi_name + r"\s+version\s*=\s*\"([^\"]*)\"\s*\?>", text, flags=re.IGNORECASE)
    if head is None:
        raise Refused(2000, f"the request has no <?{pi_name} version=\"1.0\" ?>", (150005,))
    if head.group(1) != "1.0":
        raise Refused(2000, f"XML version {head.group(1)!r} is not supported", (150004,))
    if exact_pi and exact_pi not in text:
        # The DLL's query parser holds the literal 'version="' (facts §4.1): no spaces.
        raise Refused(2000, f"the query's processing instruction must read {exact_pi}", (150005,))
    return text[head.end():]


def _element(body: str, tag: str) -> str | None:
    found = re.search(rf"<{tag}>(.*?)</{tag}>", body, flags=re.IGNORECASE | re.DOTALL)
    return found.group(1) if found else None


def _root(body: str, root: str, code: int) -> str:
    inner = _element(body, root)
    if inner is None:
        raise Refused(2000, f"the request has no <{root}>", (code,))
    return inner


@dataclass(frozen=True)
class Cond:
    field: str
    op: str
    value: str


@dataclass(frozen=True)
class Node:
    link: str  # "and" / "or"
    items: tuple[Expr, ...]


Expr = Cond | Node


@dataclass
class Query:
    table: Table
    max_records: int
    where: Expr | None
    order: list[tuple[str, bool]]  # (field, descending)


_TOKEN = re.compile(r"<Link>(.*?)</Link>|<(\w+)\s+op=\"([^\"]*)\"\s*>(.*?)</\2>|(\S)",
                    flags=re.IGNORECASE | re.DOTALL)
_LINKS = {" and ": "and", " or ": "or", " ( ": "(", " ) ": ")"}


def _tokens(where: str, table: Table) -> list[str | Cond]:
    tokens: list[str | Cond] = []
    for match in _TOKEN.finditer(where):
        link, name, op, value, junk = match.groups()
        if junk is not None:
            raise Refused(2000, f"unexpected text {junk!r} in <where>", (110005,))
        if link is not None:
            # The vendor writes every link with a space on each side (facts §4.1): ' and ', ' ( '.
            word = _LINKS.get(link.lower())
            if word is None:
                raise Refused(2000, f"<Link>{link}</Link> is not ' and ', ' or ', ' ( ' or ' ) '", (110005,))
            tokens.append(word)
            continue
        if op.lower() not in OPERATORS:
            raise Refused(2000, f"unknown operator {op!r}", (110005,))
        if name.upper() not in table.fields:
            raise Refused(2000, f"{name} is not a field of {table.datakind}", (150010,))
        tokens.append(Cond(name.upper(), op.lower(), value))
    return tokens


def _parse_expr(tokens: list[str | Cond], pos: int) -> tuple[Expr, int]:
    """expr := and-term ('or' and-term)*; and-term := atom ('and' atom)*; atom := cond | '(' expr ')'."""
    ors: list[Expr] = []
    ands: list[Expr] = []
    while True:
        if pos >= len(tokens):
            raise Refused(2000, "the filter ends where a condition was expected", (110005,))
        token = tokens[pos]
        if token == "(":
            inner, pos = _parse_expr(tokens, pos + 1)
            if pos >= len(tokens) or tokens[pos] != ")":
                raise Refused(2000, "a ' ( ' is not closed", (110005,))
            ands.append(inner)
            pos += 1
        elif isinstance(token, Cond):
            ands.append(token)
            pos += 1
        else:
            raise Refused(2000, f"{token!r} where a condition was expected", (110005,))
        if pos < len(tokens) and tokens[pos] in ("and", "or"):
            if tokens[pos] == "or":
                ors.append(Node("and", tuple(ands)))
                ands = []
            pos += 1
            continue
        ors.append(Node("and", tuple(ands)))
        return Node("or", tuple(ors)), pos


def parse_query(text: str) -> Query:
    body = _body(text, "commitcrmxmlqueryrequest", '<?commitcrmxmlqueryrequest version="1.0" ?>')
    root = _root(body, "CommitCRMQueryDataRequest", 110002)
    kind = _element(root, "Datakind")
    if kind is None or not kind.strip():
        raise Refused(2000, "the query names no <Datakind>", (110001,))
    table = BY_DATAKIND.get(kind.strip().upper())  # the DLL trims and upper-cases it (facts §4.1)
    if table is None:
        raise Refused(2000, f"unknown data kind {kind!r}", (110008,))
    try:
        max_records = int((_element(root, "MaxRecordCount") or "").strip())
    except ValueError:
        raise Refused(2000, "<MaxRecordCount> is not a number", (110003,)) from None
    if max_records < 1:
        raise Refused(2000, "<MaxRecordCount> must be at least 1", (110003,))
    query = _element(root, "query") or ""
    where_text = _element(query, "where") or ""
    tokens = _tokens(where_text, table)
    where: Expr | None = None
    if tokens:
        where, end = _parse_expr(tokens, 0)
        if end != len(tokens):
            raise Refused(2000, "the filter has more after its end", (110005,))
    order = []
    for name, direction in re.findall(r"<(\w+)\s+dir=\"(\w+)\"\s*/>", _element(query, "order") or "",
                                      flags=re.IGNORECASE):
        if name.upper() not in table.fields:
            raise Refused(2000, f"{name} is not a field of {table.datakind}", (150010,))
        order.append((name.upper(), direction.lower() == "desc"))
    return Query(table, max_records, where, order)


def matches(record: dict[str, str], expr: Expr | None, table: Table) -> bool:
    if expr is None:
        return True
    if isinstance(expr, Cond):
        return _holds(record.get(expr.field, ""), expr.op, expr.value, expr.field in table.numeric)
    results = (matches(record, item, table) for item in expr.items)
    return any(results) if expr.link == "or" else all(results)


def _holds(actual: str, op: str, wanted: str, numeric: bool) -> bool:
    if op in ("like", "not like"):
        pattern = "".join(".*" if c == "%" else "." if c == "_" else re.escape(c) for c in wanted)
        found = re.fullmatch(pattern, actual, flags=re.IGNORECASE | re.DOTALL) is not None
        return found if op == "like" else not found
    a: float | str
    b: float | str
    if numeric:
        try:
            a, b = float(actual or 0), float(wanted)
        except ValueError:
            a, b = actual, wanted
    else:
        a, b = actual.upper(), wanted.upper()  # the SQL strings hold UPPER( (facts §4.1)
    return {"=": a == b, "not": a != b, ">": a > b, ">=": a >= b, "<": a < b, "<=": a <= b}[op]  # type: ignore[operator]


def sort_key(record: dict[str, str], order: list[tuple[str, bool]]) -> list[str]:
    return [record.get(name, "") for name, _ in order]


def parse_record_request(text: str) -> tuple[str, list[str]]:
    body = _body(text, "commitcrmxmlgetrecorddatarequest")
    root = _root(body, "CommitCRMGetRecordDataRequest", 150011)
    rec_id = (_element(root, "GetRecordByRecId") or "").strip()
    names = [n.strip().upper() for n in (_element(root, "SelectFieldsList") or "").split(",") if n.strip()]
    return rec_id, names


def parse_multi_record_request(text: str) -> tuple[list[str], list[str]]:
    body = _body(text, "commitcrmxmlgetmultirecorddatarequest")
    root = _root(body, "CommitCRMGetMultiRecordDataRequest", 151000)
    rec_ids = [r.strip() for r in (_element(root, "GetMultiRecordByRecId") or "").split(",") if r.strip()]
    names = [n.strip().upper() for n in (_element(root, "SelectFieldsList") or "").split(",") if n.strip()]
    return rec_ids, names


def parse_field_request(text: str) -> str:
    body = _body(text, "commitcrmxmlgetfieldattributesrequest")
    root = _root(body, "CommitCRMGetFieldAttributesRequest", 190001)
    return (_element(root, "GetRecordByRecId") or "").strip().upper()


def parse_properties_request(text: str) -> None:
    body = _body(text, "commitcrmxmlgetsystempropertiesrequest")
    _root(body, "CommitCRMGetSystemPropertiesRequest", 200001)


# -- answers (facts §4.4: Status, ResultCodes, ResultMessage, RecordData) ----------------------------
def answer(root: str, body: str = "", *, status: int = 1, codes: tuple[int, ...] = (), message: str = "") -> str:
    word = "SUCCESS" if status == 1 else "FAILURE"
    return (f'<?xml version="1.0" ?>\r\n<{root}><Status StatsValue="{status}">{word}</Status>'
            f"<ResultCodes>{','.join(map(str, codes))}</ResultCodes><ResultMessage>{escape(message)}</ResultMessage>"
            f"{body}</{root}>")


def query_body(table: Table, rec_ids: list[str]) -> str:
    return "".join(f"<RecordData><{table.rec_id_field}>{r}</{table.rec_id_field}></RecordData>" for r in rec_ids)


def record_body(record: dict[str, str], names: list[str]) -> str:
    parts = []
    for name in names:
        value = record.get(name, "")
        if name in RAW_FIELDS:
            shown = STATUS_TEXTS.get(int(value), value) if value.lstrip("-").isdigit() else value
            parts.append(f"<{name} CmtRawData={quoteattr(value)}>{escape(shown)}</{name}>")
        else:
            parts.append(f"<{name}>{escape(value)}</{name}>")
    return f"<RecordData>{''.join(parts)}</RecordData>"


def multi_record_body(records: list[tuple[dict[str, str] | None, list[str]]]) -> str:
    """``RecordData`` with one ``CmtRecord`` per REC ID asked, each with its own result elements
    (facts §4.4); an unknown REC ID is a record with 150003 only."""
    parts = []
    for record, names in records:
        if record is None:
            parts.append("<CmtRecord><ResultCodes>150003</ResultCodes><ResultMessage>No records in CommitCRM "
                         "database match the received RECID</ResultMessage></CmtRecord>")
            continue
        inner = record_body(record, names)[len("<RecordData>"):-len("</RecordData>")]
        parts.append(f"<CmtRecord><ResultCodes></ResultCodes><ResultMessage></ResultMessage>{inner}</CmtRecord>")
    return f"<RecordData>{''.join(parts)}</RecordData>"


def values_body(values: dict[str, str]) -> str:
    return "<RecordData>" + "".join(f"<{k}>{escape(v)}</{k}>" for k, v in values.items()) + "</RecordData>"


__all__ = ["Query", "Refused", "answer", "matches", "multi_record_body", "parse_data", "parse_field_request",
           "parse_map", "parse_multi_record_request", "parse_properties_request", "parse_query",
           "parse_record_request", "query_body", "record_body", "sort_key", "values_body"]
