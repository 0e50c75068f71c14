"""The DB API's messages: the data and map buffers of a write, the query and get-record
requests, and safe parsers of their answers (rule D5: no DOCTYPE, no entities, size limits).

``(verify)`` items of the layouts are constants of :mod:`agent.backends.rangermsp.fields`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from xml.sax.saxutils import escape

from agent.backends.rangermsp.fields import DELIMITER, ENCODING, QUOTE, Kind
from agent.ports.psa import PsaError
from dbsys.safexml import UnsafeXML, parse_bytes

MAX_ANSWER_BYTES = 64 * 1024 * 1024
OPERATORS = ("=", ">", ">=", "<", "<=", "LIKE", "NOT", "NOT LIKE")


class BadAnswer(PsaError):
    """The DB API answered something that is not the expected XML; nothing of it is used."""

    code = "PsaBadAnswer"


def encode(text: str) -> bytes:
    """Text as the DLLs take it; a character the code page lacks becomes '?' (never an error)."""
    return text.encode(ENCODING, errors="replace")


def xml_bytes(text: str) -> bytes:
    """An XML request in the DLLs' code page; characters it lacks travel as character references."""
    return text.encode(ENCODING, errors="xmlcharrefreplace")


# -- writes ------------------------------------------------------------------------------------
def data_buffer(values: Sequence[str]) -> bytes:
    """``'v1','v2'``: each value quoted, a quote inside doubled, joined by the delimiter."""
    return encode(DELIMITER.join(QUOTE + str(v).replace(QUOTE, QUOTE * 2) + QUOTE for v in values))


def map_buffer(fields: Sequence[str]) -> bytes:
    """The quote character, the delimiter, then one field name per line (the contract's layout)."""
    return encode("\n".join([QUOTE, DELIMITER, *fields]) + "\n")


# -- queries -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Condition:
    field: str
    op: str
    value: str

    def __post_init__(self) -> None:
        if self.op not in OPERATORS:
            raise ValueError(f"unknown query operator {self.op!r}")


def query_request(app_name: str, kind: Kind, where: Iterable[Condition], *, max_records: int,
                  link: str = "AND") -> bytes:
    """A ``CommitCRMQueryDataRequest`` for the REC IDs of ``kind`` matching every (or any) condition."""
    parts = []
    for number, cond in enumerate(where):
        if number:
            parts.append(f"<Link>{link}</Link>")
        parts.append(f'<{cond.field} op="{escape(cond.op, {chr(34): "&quot;"})}">{escape(cond.value)}</{cond.field}>')
    return xml_bytes(
        '<?commitcrmxmlqueryrequest version="1.0" ?>'
        "<CommitCRMQueryDataRequest>"
        f"<ExternalApplicationName>{escape(app_name)}</ExternalApplicationName>"
        f"<Datakind>{kind.datakind}</Datakind>"
        f"<MaxRecordCount>{max_records}</MaxRecordCount>"
        f"<Query><Where>{''.join(parts)}</Where><Order/></Query>"
        "</CommitCRMQueryDataRequest>")


def record_request(app_name: str, rec_id: str, fields: Sequence[str]) -> bytes:
    """A ``CommitCRMGetRecordDataRequest`` for some fields of one record."""
    return xml_bytes(
        '<?commitcrmxmlgetrecorddatarequest version="1.0" ?>'
        "<CommitCRMGetRecordDataRequest>"
        f"<ExternalApplicationName>{escape(app_name)}</ExternalApplicationName>"
        f"<GetRecordByRecId>{escape(rec_id)}</GetRecordByRecId>"
        f"<SelectFieldsList>{', '.join(fields)}</SelectFieldsList>"
        "</CommitCRMGetRecordDataRequest>")


# -- answers -----------------------------------------------------------------------------------
def _root(raw: bytes, root_tag: str, call: str):
    data = raw.split(b"\x00", 1)[0]
    if not data.strip():
        return None
    try:
        root = parse_bytes(data, max_bytes=MAX_ANSWER_BYTES, what=f"answer of {call}")
    except UnsafeXML as exc:
        raise BadAnswer(f"RangerMSP's {call} answered something unusable ({exc}); nothing of it is used. "
                        "If this repeats, run 'zenithlink psa probe' and send its report.") from None
    if root.tag != root_tag:
        raise BadAnswer(f"RangerMSP's {call} answered <{root.tag}> where <{root_tag}> was expected; "
                        "nothing of it is used.")
    return root


def parse_rec_ids(raw: bytes, kind: Kind) -> list[str]:
    """The REC IDs of a query answer, in its order. A ``<RecordData>`` holds the REC ID either as its
    text or in one child (the contract says only that it wraps one)."""
    root = _root(raw, "CommitCRMQueryDataResponse", "CmtGetQueryRecIds")
    if root is None:
        return []
    found = []
    for record in root.iter("RecordData"):
        text = (record.text or "").strip()
        if not text:
            child = next(iter(record), None)
            text = (child.text or "").strip() if child is not None else ""
        if not (len(text) == 20 and text.startswith(kind.prefix)):
            raise BadAnswer(f"RangerMSP's query for {kind.datakind} answered {text[:40]!r}, not a REC ID "
                            f"of that kind; nothing of the answer is used.")
        found.append(text)
    return found


def parse_record(raw: bytes) -> dict[str, str]:
    """The fields of a get-record answer by name; a ``CmtRawData`` value is preferred to the display text."""
    root = _root(raw, "CommitCRMGetRecordDataResponse", "CmtGetRecordDataByRecId")
    if root is None:
        raise BadAnswer("RangerMSP's CmtGetRecordDataByRecId answered nothing for a record it has.")
    record = root.find("RecordData")
    if record is None:
        raise BadAnswer("RangerMSP's CmtGetRecordDataByRecId answered without <RecordData>.")
    values = {}
    for child in record:
        raw_value = child.get("CmtRawData")
        values[str(child.tag)] = raw_value if raw_value is not None else (child.text or "")
    return values
