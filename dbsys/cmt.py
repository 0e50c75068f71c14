"""Streaming writer and reader of the inventory files ``ZenithSites_*`` / ``ZenithDevices_*``.

The writer streams with lxml's incremental writer into an :func:`dbsys.atomic.atomic_writer`,
so memory stays flat whatever the number of devices and a failed refresh leaves the previous
file byte-identical.

``count`` is only known at the end. The root start tag is written with a placeholder
``count="#####…"`` wide enough for any count; after the last item the placeholder is
overwritten in place (same byte length) by ``count="N"`` followed by spaces, which XML
allows inside a start tag, and only then is the temporary file renamed over the final name.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime
from pathlib import Path
from typing import Literal, Protocol, Union, cast

from lxml import etree

from dbsys import safexml
from dbsys.atomic import atomic_writer
from dbsys.timestamps import format_utc, parse_utc

Kind = Literal["sites", "devices"]


class Record(Protocol):
    """A Site or Device record (e.g. the RMM port's): its ordered ``(tag, text)`` fields.

    A record may also offer ``xml_element()``, returning the ``<Site>``/``<Device>`` element it
    was parsed from; that element is then written unchanged, which costs far less than writing
    the fields one by one (the inventory of 100,000 devices).
    """

    def fields(self) -> Sequence[tuple[str, str]]: ...


Item = Union[Record, Sequence[tuple[str, str]], etree._Element]  # noqa: UP007 - a runtime alias
"""One Site or Device: a :class:`Record`, its ordered ``(tag, text)`` children, or the element itself."""

_ROOT = {"sites": "ZenithSites", "devices": "ZenithDevices"}
_ITEM = {"sites": "Site", "devices": "Device"}
_PLACEHOLDER = "#" * 20
_HEAD_BYTES = 4096


class MissingInventory(FileNotFoundError):
    """The inventory file has not been written yet (R22)."""

    def __init__(self, path: Path) -> None:
        super().__init__(
            f"There is no inventory file {path.name} in {path.parent} yet. The agent writes it after "
            f"its first successful inventory refresh; if it does not appear, read the error reports "
            f"in {path.parent / 'ZenithErrors'} (or run 'zenithlink errors list')."
        )
        self.filename = str(path)

    def __str__(self) -> str:
        return str(self.args[0])


class BadInventory(ValueError):
    """The inventory file exists but is not one this module wrote."""


def sites_path(folder: str | os.PathLike[str], instance_id: str) -> Path:
    """``<folder>/ZenithSites_<InstanceID>.cmt``."""
    return Path(folder) / f"ZenithSites_{instance_id}.cmt"


def devices_path(folder: str | os.PathLike[str], instance_id: str) -> Path:
    """``<folder>/ZenithDevices_<InstanceID>.cmt``."""
    return Path(folder) / f"ZenithDevices_{instance_id}.cmt"


def _check_kind(kind: str) -> None:
    if kind not in _ROOT:
        raise ValueError(f"inventory kind must be 'sites' or 'devices', not {kind!r}")


def write_inventory(path: str | os.PathLike[str], kind: Kind, items: Iterable[Item], generated: datetime) -> int:
    """Stream ``items`` into the inventory file at ``path``; return how many were written.

    Each item is a :class:`Record`, the ordered ``(tag, text)`` children of one Site or Device,
    or the lxml ``<Site>``/``<Device>`` element itself (as parsed from an API answer), which is
    serialised unchanged (attributes, children, text; its tail, the text after it in the
    answer, is not). An exception from ``items`` (or from writing, e.g. lxml's ``ValueError``
    for a tag that is not an XML name or text with control characters XML cannot hold, or an
    element of the wrong kind) aborts the write: the previous file stays as it was and no
    temporary file is left.
    """
    _check_kind(kind)
    item_tag = _ITEM[kind]
    count = 0
    with atomic_writer(path) as fh:
        with etree.xmlfile(fh, encoding="utf-8") as xf:
            xf.write_declaration()
            with xf.element(_ROOT[kind], {"generated": format_utc(generated), "count": _PLACEHOLDER}):
                for item in items:
                    xf.write("\n  ")
                    _write_item(xf, item, item_tag)
                    count += 1
                xf.write("\n")
        fh.write(b"\n")
        _patch_count(fh, count)
    return count


def _write_item(xf, item: Item, item_tag: str) -> None:
    if isinstance(item, etree._Element):
        _write_element(xf, item, item_tag)
        return
    as_xml = getattr(item, "xml_element", None)
    if as_xml is not None:
        _write_element(xf, as_xml(), item_tag)
        return
    fields = getattr(item, "fields", None)
    with xf.element(item_tag):
        # An item with neither xml_element() nor fields() is the sequence of pairs itself.
        for tag, text in (fields() if fields is not None else cast("Sequence[tuple[str, str]]", item)):
            with xf.element(tag):
                xf.write(text)


def _write_element(xf, elem: etree._Element, item_tag: str) -> None:
    if elem.tag != item_tag:
        raise ValueError(f"an inventory of <{item_tag}> items cannot hold a <{elem.tag}> element")
    tail = elem.tail
    if tail is None:
        xf.write(elem)
        return
    # lxml writes an element's tail with it; the file's own layout goes between items instead.
    elem.tail = None
    try:
        xf.write(elem)
    finally:
        elem.tail = tail


def _patch_count(fh, count: int) -> None:
    fh.flush()
    fh.seek(0)
    head = fh.read(_HEAD_BYTES)
    old = f'count="{_PLACEHOLDER}"'.encode()
    at = head.find(old)
    if at < 0:
        raise RuntimeError("the inventory header placeholder was not found; the file was not replaced")
    new = f'count="{count}"'.encode().ljust(len(old), b" ")
    fh.seek(at)
    fh.write(new)
    fh.seek(0, os.SEEK_END)


def read_inventory(path: str | os.PathLike[str], kind: Kind) -> Iterator[dict[str, str]]:
    """Stream the items of an inventory file, each a dict of its children in file order.

    :class:`MissingInventory` is raised by this call itself, before iteration starts.
    """
    _check_kind(kind)
    path = Path(path)
    return _items(_open(path), _ITEM[kind], path.name)


def _items(fh, item_tag: str, name: str) -> Iterator[dict[str, str]]:
    with fh:
        for elem in safexml.iter_elements(fh, item_tag, what=f"inventory file {name}"):
            yield {child.tag: child.text or "" for child in elem if isinstance(child.tag, str)}


def read_fields(path: str | os.PathLike[str], kind: Kind, *tags: str) -> Iterator[tuple[str, ...]]:
    """Stream, for each item of an inventory file, the stripped text of the first child named
    by each of ``tags`` (``""`` when absent), e.g. ``read_fields(p, "sites", "SiteCode", "Name")``.

    Much cheaper than :func:`read_inventory` when only a few fields are wanted.
    :class:`MissingInventory` is raised by this call itself, before iteration starts.
    """
    _check_kind(kind)
    path = Path(path)
    return _fields(_open(path), _ITEM[kind], path.name, tags)


def _fields(fh, item_tag: str, name: str, tags: tuple[str, ...]) -> Iterator[tuple[str, ...]]:
    empty = dict.fromkeys(tags, "")
    with fh:
        for elem in safexml.iter_elements(fh, item_tag, what=f"inventory file {name}"):
            found = dict(empty)
            # One C-level filtered pass over the children; the first occurrence of a tag wins.
            for child in elem.iterchildren(*tags, reversed=True):
                found[child.tag] = child.text or ""
            yield tuple(found[t].strip() for t in tags)


def inventory_header(path: str | os.PathLike[str]) -> tuple[datetime, int]:
    """``(generated, count)`` from the root start tag, without reading the items."""
    path = Path(path)
    with _open(path) as fh:
        head = fh.read(_HEAD_BYTES)
    root = _root_start(head, path)
    if root.tag not in _ROOT.values():
        raise BadInventory(f"{path.name} is not an inventory file (its root is <{root.tag}>); "
                           f"delete it and let the agent refresh the inventory")
    try:
        return parse_utc(root.get("generated", "")), int(root.get("count", ""))
    except ValueError:
        raise BadInventory(f"{path.name} has a damaged header; delete it and let the agent "
                           f"refresh the inventory") from None


def _open(path: Path):
    try:
        return open(path, "rb")
    except FileNotFoundError:
        raise MissingInventory(path) from None


def _root_start(head: bytes, path: Path) -> etree._Element:
    """The root element as soon as its start tag is parsed (attributes complete)."""
    root = safexml.root_start(head)
    if root is not None:
        return root
    raise BadInventory(f"{path.name} does not start with an inventory header; delete it and let "
                       f"the agent refresh the inventory")
