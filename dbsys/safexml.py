"""Parsing XML that comes from outside the agent (API answers, request drops).

Rule D5: entity resolution and network access are off, any DOCTYPE is refused and
sizes are capped. Every problem becomes one :class:`UnsafeXML` with a sentence a
person can act on; lxml's own exceptions never escape.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import IO

from lxml import etree

from dbsys import fsops

DEFAULT_MAX_BYTES = 16 * 1024 * 1024


class UnsafeXML(ValueError):
    """The document is malformed, hostile (DOCTYPE, entities) or too large."""


class RefusedXML(UnsafeXML):
    """The document declares a DOCTYPE or entities."""


class TruncatedXML(UnsafeXML):
    """The document stops before its end, and what it holds is well-formed so far: more may come
    (a writer that appends and closes the file chunk by chunk)."""


# The options every parser of outside XML is built with, in one place.
_SAFE = {"resolve_entities": False, "no_network": True, "load_dtd": False, "huge_tree": False,
         "remove_comments": True, "remove_pis": True}


def _refuse_doctype(head: bytes) -> None:
    # lxml still records an internal subset even with resolve_entities off, and the
    # contract forbids any DOCTYPE, so look before parsing.
    upper = head.upper()
    if b"<!DOCTYPE" in upper or b"<!ENTITY" in upper:
        raise RefusedXML("the document declares a DOCTYPE or entities, which are refused")


def prolog(data: bytes) -> bytes:
    """What comes before the root element: the XML declaration, comments, processing instructions
    and, where one is, a DOCTYPE (however long the comments before it are)."""
    pos, end = 0, len(data)
    while pos < end:
        start = data.find(b"<", pos)
        if start < 0:
            return data
        if data.startswith(b"<!--", start):
            close = data.find(b"-->", start + 4)
            pos = end if close < 0 else close + 3
        elif data.startswith(b"<?", start):
            close = data.find(b"?>", start + 2)
            pos = end if close < 0 else close + 2
        else:
            return data[:start + 10]  # the root's first bytes, or a <!DOCTYPE / <!ENTITY
    return data


def parse_bytes(data: bytes, *, max_bytes: int = DEFAULT_MAX_BYTES, what: str = "document") -> etree._Element:
    """Parse a whole document held in memory and return its root element."""
    if len(data) > max_bytes:
        raise UnsafeXML(f"the {what} is {len(data)} bytes, more than the limit of {max_bytes}")
    if not data.strip():
        raise UnsafeXML(f"the {what} is empty")
    _refuse_doctype(prolog(data))  # a DOCTYPE can only stand in the prolog
    try:
        root = etree.fromstring(data, parser=etree.XMLParser(dtd_validation=False, **_SAFE))
    except etree.XMLSyntaxError as exc:
        kind = TruncatedXML if ends_early(data) else UnsafeXML
        raise kind(f"the {what} is not well-formed XML: {exc}") from None
    if root is None:
        raise UnsafeXML(f"the {what} has no root element")
    _refuse_parsed_doctype(root)
    return root


def ends_early(data: bytes) -> bool:
    """Whether ``data`` is the beginning of a document that stops before its end (premature end
    of data), rather than XML that is wrong before its end: fed to an incremental parser, it
    raises nothing until the parser is told there is no more."""
    parser = etree.XMLParser(**_SAFE)
    try:
        parser.feed(data)
    except etree.XMLSyntaxError:
        return False
    try:
        parser.close()
    except etree.XMLSyntaxError:
        return True
    return False


def parse_file(path: Path, root_tag: str, *, max_bytes: int, what: str) -> etree._Element:
    """Parse a file the agent wrote (a status file, a result, an error report) and check that
    its root element is ``root_tag``; ``what`` names the kind of file in the messages."""
    root = parse_bytes(fsops.read_bytes(path), max_bytes=max_bytes, what=f"{what} {path.name}")
    if root.tag != root_tag:
        raise UnsafeXML(f"{path.name} is not {_article(what)} {what} (its root is <{root.tag}>)")
    return root


def _article(noun: str) -> str:
    return "an" if noun[:1].lower() in "aeiou" else "a"


def _refuse_parsed_doctype(elem: etree._Element) -> None:
    # The byte check misses a DOCTYPE in a UTF-16 document; the parser still records it.
    if elem.getroottree().docinfo.doctype:
        raise RefusedXML("the document declares a DOCTYPE or entities, which are refused")


def iter_elements(stream: IO[bytes], tag: str, *, what: str = "document") -> Iterator[etree._Element]:
    """Stream ``tag`` elements of a large file, freeing each once the caller is done.

    Memory stays flat whatever the size of the file. The first 64 KiB are checked
    for a DOCTYPE before anything is yielded.
    """
    head = stream.read(65536)
    _refuse_doctype(head)
    stream.seek(0)
    context = etree.iterparse(stream, events=("end",), tag=tag, **_SAFE)
    try:
        checked = False
        for _event, elem in context:
            if not checked:
                _refuse_parsed_doctype(elem)
                checked = True
            yield elem
            elem.clear()
            while elem.getprevious() is not None:
                del elem.getparent()[0]
    except etree.XMLSyntaxError as exc:
        raise UnsafeXML(f"the {what} is not well-formed XML: {exc}") from None


def root_start(head: bytes) -> etree._Element | None:
    """The root element of a document whose first bytes are ``head``, as soon as its start
    tag is parsed (attributes complete, no children); ``None`` when ``head`` holds no
    complete, well-formed start tag. A DOCTYPE is refused like everywhere else."""
    _refuse_doctype(head)
    parser = etree.XMLPullParser(events=("start",), **_SAFE)
    try:
        parser.feed(head)
        for _event, elem in parser.read_events():
            return elem
    except etree.XMLSyntaxError:
        pass
    return None


def child_text(elem: etree._Element, tag: str, default: str = "") -> str:
    """Text of the first child named ``tag``, stripped; ``default`` when absent or empty."""
    child = elem.find(tag)
    if child is None or child.text is None:
        return default
    return child.text.strip()
