"""The DB API's messages, written byte for byte as the vendor's own code writes them, and safe
parsers of the answers (rule D5: no DOCTYPE, no entities, size limits).

Sources (../references/rangermsp-api-facts.md): the data and map buffers of a write (S1 §3.1),
the query request (S1 §4.1), the get-record, system-properties and field-attributes requests
(S1 §4.3), the answers (S1/S2 §4.4). The vendor escapes nothing, neither in the buffers nor in
the XML: values with a quote, a line break, ``<`` or ``&`` are kept out of keys and queries.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from agent.backends.rangermsp.fields import DELIMITER, QUOTE, Kind
from agent.ports.psa import PsaError, PsaRejected
from dbsys.safexml import UnsafeXML, parse_bytes

MAX_ANSWER_BYTES = 64 * 1024 * 1024
CRLF = "\r\n"
# The operator strings of the vendor's SimpleCriteriaExpression (S1 §4.1), each with its space.
OPERATORS = ("=", ">", ">=", "<", "<=", "like", "not", "not like")
LINKS = ("and", "or")
UNSAFE_IN_QUERY = ("<", "&", "'")


class BadAnswer(PsaError):
    """The DB API answered something that is not the expected XML; nothing of it is used."""

    code = "PsaBadAnswer"


# -- writes ------------------------------------------------------------------------------------
def data_buffer(values: Sequence[str]) -> str:
    """``'v1','v2'``: each value between quotes, nothing escaped, no trailing delimiter (S1 §3.1)."""
    return DELIMITER.join(QUOTE + str(v) + QUOTE for v in values)


def map_buffer(fields: Sequence[str]) -> str:
    """``'`` LF ``,`` then LF and one field id per line, no trailing LF (S1 §3.1)."""
    return "\n".join([QUOTE, DELIMITER, *fields])


# -- queries -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Condition:
    field: str
    op: str
    value: str

    def __post_init__(self) -> None:
        if self.op not in OPERATORS:
            raise ValueError(f"unknown query operator {self.op!r}")
        unsafe = [c for c in UNSAFE_IN_QUERY if c in self.value] + (["a line break"] if "\n" in self.value else [])
        if unsafe:
            raise PsaRejected(f"RangerMSP's DB API cannot be asked for {self.value[:40]!r}: it holds "
                              f"{', '.join(map(repr, unsafe))}, which its unescaped XML does not carry")

    def xml(self) -> str:
        return f'<{self.field} op="{self.op}" >{self.value}</{self.field}>'


@dataclass(frozen=True)
class Group:
    """Conditions (or groups) joined by one link, written as the vendor's CriteriaExpressionGroup:
    `` ( `` before the first, `` and `` / `` or `` before each next, `` ) `` after the last."""

    items: tuple[Condition | Group, ...]
    link: str = "and"

    def xml(self) -> str:
        if not self.items:
            return ""
        if self.link not in LINKS:
            raise ValueError(f"unknown link {self.link!r}")
        out = [f"<Link> ( </Link>{CRLF}"]
        for number, item in enumerate(self.items):
            if number:
                out.append(f"<Link> {self.link} </Link>")
            out.append(item.xml() + ("" if isinstance(item, Group) else CRLF))
        out.append(f"<Link> ) </Link>{CRLF}")
        return "".join(out)


def query_request(app_name: str, kind: Kind, where: Group, *, max_records: int,
                  order: str | None = None, descending: bool = False) -> str:
    """A ``CommitCRMQueryDataRequest`` as the vendor's QueryRequest.Execute writes it (S1 §4.1)."""
    order_field = order or kind.rec_id_field
    direction = "desc" if descending else "asc"
    return (f'<?xml version="1.0" ?>{CRLF}<?commitcrmxmlqueryrequest version="1.0" ?>{CRLF}'
            f"<CommitCRMQueryDataRequest>{CRLF}"
            f"<ExternalApplicationName>{app_name}</ExternalApplicationName>{CRLF}"
            f"<Datakind>{kind.datakind}</Datakind>{CRLF}"
            f"<MaxRecordCount>{max_records}</MaxRecordCount>{CRLF}"
            f"<query>{CRLF}<where>{CRLF}{where.xml()}</where>{CRLF}"
            f'<order>{CRLF}<{order_field} dir="{direction}" />{CRLF}</order>{CRLF}'
            f"</query>{CRLF}</CommitCRMQueryDataRequest>{CRLF}")


def record_request(app_name: str, rec_id: str, fields: Sequence[str]) -> str:
    """A ``CommitCRMGetRecordDataRequest`` (S1 §4.3, ``Object::Load``)."""
    return (f'<?xml version="1.0" ?>{CRLF}<?commitcrmxmlgetrecorddatarequest version = "1.0" ?>{CRLF}'
            f"\t<CommitCRMGetRecordDataRequest>{CRLF}"
            f"\t<ExternalApplicationName>{app_name}</ExternalApplicationName>{CRLF}"
            f"\t<Password></Password>{CRLF}"
            f"\t<GetRecordByRecId>{rec_id}</GetRecordByRecId>{CRLF}"
            f"<SelectFieldsList>{','.join(fields)} </SelectFieldsList>{CRLF}"
            f"</CommitCRMGetRecordDataRequest>{CRLF}")


def multi_record_request(app_name: str, rec_ids: Sequence[str], fields: Sequence[str]) -> str:
    """A ``CommitCRMGetMultiRecordDataRequest``: several REC IDs joined by ',' (S1 §4.3,
    ``Object::Load(List<string>)``)."""
    return (f'<?xml version="1.0" ?>{CRLF}<?commitcrmxmlgetmultirecorddatarequest version = "1.0" ?>{CRLF}'
            f"\t<CommitCRMGetMultiRecordDataRequest>{CRLF}"
            f"\t<ExternalApplicationName>{app_name}</ExternalApplicationName>{CRLF}"
            f"\t<Password></Password>{CRLF}"
            f"\t<GetMultiRecordByRecId>{','.join(rec_ids)}</GetMultiRecordByRecId>{CRLF}"
            f"<SelectFieldsList>{','.join(fields)} </SelectFieldsList>{CRLF}"
            f"</CommitCRMGetMultiRecordDataRequest>{CRLF}")


def system_properties_request(app_name: str) -> str:
    """``CommitCRMGetSystemPropertiesRequest`` (S1 §4.3, ``Application::ReadSystemProperties``)."""
    return (f'\t<?commitcrmxmlgetsystempropertiesrequest version = "1.0" ?>{CRLF}'
            f"\t<CommitCRMGetSystemPropertiesRequest>{CRLF}\t<Password></Password>{CRLF}"
            f"\t<ExternalApplicationName>{app_name}</ExternalApplicationName>{CRLF}"
            f"</CommitCRMGetSystemPropertiesRequest>{CRLF}")


def field_attributes_request(app_name: str, field_id: str) -> str:
    """``CommitCRMGetFieldAttributesRequest``: the *field id* goes in ``GetRecordByRecId``
    (S1 §4.3, ``CmtFieldAttributes::LoadField``)."""
    return (f'\t<?commitcrmxmlgetfieldattributesrequest version = "1.0" ?>{CRLF}'
            f"\t<CommitCRMGetFieldAttributesRequest>{CRLF}"
            f"\t<ExternalApplicationName>{app_name}</ExternalApplicationName>{CRLF}\t<Password></Password>{CRLF}"
            f"\t<GetRecordByRecId>{field_id}</GetRecordByRecId>{CRLF}"
            f"</CommitCRMGetFieldAttributesRequest>{CRLF}")


# -- answers -----------------------------------------------------------------------------------
@dataclass
class Answer:
    """One answer: its ``<Status>`` text, ``<ResultCodes>``, ``<ResultMessage>`` and root element."""

    status_text: str
    codes: tuple[int, ...]
    message: str
    root: Any


_DECLARATION = re.compile(r"^\s*<\?xml[^>]*\?>")


def parse_codes(text: str) -> tuple[int, ...]:
    """Comma-separated integers (the vendor splits on ',' and parses each, S1 §2.1/§4.4)."""
    codes = []
    for part in (text or "").replace(";", ",").split(","):
        part = part.strip()
        if part.lstrip("-").isdigit():
            codes.append(int(part))
    return tuple(codes)


def parse_answer(text: str, root_tag: str, call: str) -> Answer | None:
    """The answer of ``call`` (already decoded from the code page), or ``None`` when empty."""
    body = _DECLARATION.sub("", text.split("\x00", 1)[0]).strip()
    if not body:
        return None
    try:
        root = parse_bytes(body.encode("utf-8"), max_bytes=MAX_ANSWER_BYTES, what=f"answer of {call}")
    except UnsafeXML as exc:
        raise BadAnswer(f"RangerMSP's {call} answered something unusable ({exc}); nothing of it is used. "
                        "If this repeats, run 'zenithlink psa probe' and send its report.") from None
    if root.tag != root_tag:
        raise BadAnswer(f"RangerMSP's {call} answered <{root.tag}> where <{root_tag}> was expected; "
                        "nothing of it is used.")
    return Answer(status_text=(root.findtext("Status") or "").strip(), codes=parse_codes(root.findtext("ResultCodes")
                  or ""), message=(root.findtext("ResultMessage") or "").strip(), root=root)


def rec_ids(answer: Answer | None, kind: Kind) -> list[str]:
    """The REC IDs of a query answer, in its order: each ``RecordData``'s first child (S1 §4.4)."""
    if answer is None:
        return []
    found = []
    for record in answer.root.findall("RecordData"):
        child = next(iter(record), None)
        text = ((child.text if child is not None else record.text) or "").strip()
        if not (len(text) == 20 and text.startswith(kind.prefix)):
            raise BadAnswer(f"RangerMSP's query for {kind.datakind} answered {text[:40]!r}, not a REC ID "
                            "of that kind; nothing of the answer is used.")
        found.append(text)
    return found


def record_values(answer: Answer | None, call: str) -> dict[str, str]:
    """The children of ``RecordData`` by name; a coded field's ``CmtRawData`` is the stored value
    (S1 §4.4: the wrapper reads ``FIELD_CmtRawData``)."""
    if answer is None:
        raise BadAnswer(f"RangerMSP's {call} answered nothing.")
    record = answer.root.find("RecordData")
    if record is None:
        raise BadAnswer(f"RangerMSP's {call} answered without <RecordData>.")
    values = {}
    for child in record:
        raw_value = child.get("CmtRawData")
        values[str(child.tag)] = raw_value if raw_value is not None else (child.text or "")
    return values


def multi_record_values(answer: Answer | None) -> list[tuple[tuple[int, ...], dict[str, str]]]:
    """Each ``RecordData/CmtRecord`` of a multi-record answer: its own result codes and its fields
    (S1 §4.4: the wrapper skips the children named ResultCodes and ResultMessage)."""
    if answer is None:
        return []
    records = []
    for record in answer.root.findall("RecordData/CmtRecord"):
        values = {}
        for child in record:
            if child.tag in ("ResultCodes", "ResultMessage"):
                continue
            raw_value = child.get("CmtRawData")
            values[str(child.tag)] = raw_value if raw_value is not None else (child.text or "")
        records.append((parse_codes(record.findtext("ResultCodes") or ""), values))
    return records


__all__ = ["Answer", "BadAnswer", "Condition", "Group", "data_buffer", "field_attributes_request", "map_buffer",
           "multi_record_request", "multi_record_values", "parse_answer", "query_request", "rec_ids",
           "record_request", "record_values", "system_properties_request"]
