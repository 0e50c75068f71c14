"""Inventory files: streaming round trip, exact count, failed refresh leaves the old file."""

from __future__ import annotations

import os
from datetime import datetime, timezone

import pytest
from lxml import etree

from dbsys import cmt, safexml
from dbsys.safexml import UnsafeXML

GENERATED = datetime(2026, 11, 27, 10, 0, 0, tzinfo=timezone.utc)


def device(i: int) -> list[tuple[str, str]]:
    return [("DeviceID", str(i)), ("Name", f"PC-{i}"), ("SiteID", str(100 + i % 7)),
            ("OS", "Windows 11"), ("Serial", f"SN{i:06d}")]


def test_paths_follow_the_instance_id(tmp_path):
    assert cmt.sites_path(tmp_path, "RMAZenithINFOTECHID1") == tmp_path / "ZenithSites_RMAZenithINFOTECHID1.cmt"
    assert cmt.devices_path(tmp_path, "X") == tmp_path / "ZenithDevices_X.cmt"


def test_sites_round_trip_with_awkward_values(tmp_path):
    sites = [
        [("SiteID", "101"), ("SiteCode", "ACME-HQ"), ("Name", "Smith & Sons <HQ>"),
         ("ClientName", 'A "quoted" \'name\'')],
        [("SiteID", "102"), ("Name", "Zürich — Café 東京 😀"), ("Address", "line1\nline2"), ("Empty", "")],
        [("Name", "order matters"), ("SiteID", "103")],
    ]
    path = cmt.sites_path(tmp_path, "I1")
    assert cmt.write_inventory(path, "sites", iter(sites), GENERATED) == 3
    read = list(cmt.read_inventory(path, "sites"))
    assert read == [dict(s) for s in sites]
    assert [list(r.items()) for r in read] == sites
    assert cmt.inventory_header(path) == (GENERATED, 3)
    head = path.read_bytes()[:200]
    assert head.startswith(b"<?xml") and b"<ZenithSites " in head and b'count="3"' in head


def test_zero_items(tmp_path):
    path = tmp_path / "d.cmt"
    assert cmt.write_inventory(path, "devices", [], GENERATED) == 0
    assert list(cmt.read_inventory(path, "devices")) == []
    assert cmt.inventory_header(path) == (GENERATED, 0)


def test_ten_thousand_devices(tmp_path):
    path = cmt.devices_path(tmp_path, "I1")
    n = cmt.write_inventory(path, "devices", (device(i) for i in range(10_000)), GENERATED)
    assert n == 10_000
    assert cmt.inventory_header(path) == (GENERATED, 10_000)
    count = 0
    for i, item in enumerate(cmt.read_inventory(path, "devices")):
        assert item == dict(device(i))
        count += 1
    assert count == 10_000


def test_failing_iterator_leaves_old_file_byte_identical(tmp_path):
    path = cmt.devices_path(tmp_path, "I1")
    cmt.write_inventory(path, "devices", (device(i) for i in range(50)), GENERATED)
    before = path.read_bytes()

    def broken():
        for i in range(5000):
            if i == 3000:
                raise ConnectionError("the API went away")
            yield device(i)

    with pytest.raises(ConnectionError):
        cmt.write_inventory(path, "devices", broken(), datetime.now(timezone.utc))
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == [path.name]


def test_failing_first_write_leaves_no_file(tmp_path):
    path = tmp_path / "s.cmt"

    def broken():
        raise ConnectionError("down")
        yield  # pragma: no cover

    with pytest.raises(ConnectionError):
        cmt.write_inventory(path, "sites", broken(), GENERATED)
    assert os.listdir(tmp_path) == []


def test_missing_inventory_says_what_to_do(tmp_path):
    path = cmt.sites_path(tmp_path, "I1")
    with pytest.raises(cmt.MissingInventory) as info:
        cmt.read_inventory(path, "sites")
    assert "ZenithErrors" in str(info.value) and path.name in str(info.value)
    assert isinstance(info.value, FileNotFoundError)
    with pytest.raises(cmt.MissingInventory):
        cmt.inventory_header(path)


def test_header_of_a_foreign_file_is_refused(tmp_path):
    path = tmp_path / "x.cmt"
    path.write_bytes(b"<Other count='1'/>")
    with pytest.raises(cmt.BadInventory):
        cmt.inventory_header(path)
    path.write_bytes(b"not xml at all")
    with pytest.raises(cmt.BadInventory):
        cmt.inventory_header(path)
    path.write_bytes(b'<!DOCTYPE x [<!ENTITY a "b">]><ZenithSites generated="2026-01-01T00:00:00Z" count="1"/>')
    with pytest.raises(UnsafeXML):
        cmt.inventory_header(path)


def test_unknown_kind_is_refused(tmp_path):
    with pytest.raises(ValueError):
        cmt.write_inventory(tmp_path / "x", "tickets", [], GENERATED)  # type: ignore[arg-type]


# -- lxml elements written through unchanged ----------------------------------------------------

PAGE = """<Devices page="1" pageSize="3" total="3">
  <Device><DeviceID>D-1</DeviceID><SiteCode>ACME-HQ</SiteCode><Name>Smith &amp; Sons &lt;PC&gt;</Name><FriendlyName/>
    <Address>line1
line2</Address><Note>Zürich — Café 東京 😀 "quoted" 'single'</Note></Device>
  <Device kind="virtual"><DeviceID>D-2</DeviceID><SiteCode>ACME-HQ</SiteCode><Name> padded </Name></Device>text after
  <Device><Name>order matters</Name><DeviceID>D-3</DeviceID><SiteCode>X</SiteCode><Extra><Nested>n</Nested></Extra></Device>
</Devices>"""  # noqa: E501 - the exact XML of a page, one device a line


def api_devices() -> list:
    return list(safexml.parse_bytes(PAGE.encode()).iterchildren("Device"))


def test_elements_round_trip_unchanged(tmp_path):
    path = cmt.devices_path(tmp_path, "I1")
    elements = api_devices()
    assert cmt.write_inventory(path, "devices", iter(elements), GENERATED) == 3
    assert cmt.inventory_header(path) == (GENERATED, 3)
    written = etree.parse(str(path)).getroot()
    assert [etree.tostring(e, with_tail=False) for e in written] == \
        [etree.tostring(e, with_tail=False) for e in elements]
    assert [list(r.items()) for r in cmt.read_inventory(path, "devices")] == \
        [[(c.tag, c.text or "") for c in e] for e in elements]
    data = path.read_bytes()
    assert b"text after" not in data  # an item's tail in the answer is not part of the item
    assert data.count(b"\n  <Device") == 3
    assert elements[1].tail.strip() == "text after"  # the caller's elements are left as they were


def test_elements_and_children_tuples_write_the_same_items(tmp_path):
    simple = [[("DeviceID", "D-1"), ("SiteCode", "S"), ("Name", "A & B"), ("Empty", "")],
              [("DeviceID", "D-2"), ("SiteCode", "S"), ("Name", "<two>")]]
    as_elements = safexml.parse_bytes(
        b"<Devices><Device><DeviceID>D-1</DeviceID><SiteCode>S</SiteCode><Name>A &amp; B</Name><Empty></Empty>"
        b"</Device><Device><DeviceID>D-2</DeviceID><SiteCode>S</SiteCode><Name>&lt;two&gt;</Name></Device></Devices>")
    mixed = [simple[0], as_elements[1]]
    paths = {name: tmp_path / f"{name}.cmt" for name in ("tuples", "elements", "mixed")}
    cmt.write_inventory(paths["tuples"], "devices", simple, GENERATED)
    cmt.write_inventory(paths["elements"], "devices", list(as_elements), GENERATED)
    cmt.write_inventory(paths["mixed"], "devices", mixed, GENERATED)
    expected = [dict(s) for s in simple]
    for path in paths.values():
        assert list(cmt.read_inventory(path, "devices")) == expected
    # The same document: only the spelling of an empty element (<Empty/>) may differ.
    canonical = {name: etree.canonicalize(from_file=str(path)) for name, path in paths.items()}
    assert canonical["tuples"] == canonical["mixed"] == canonical["elements"]


def test_an_element_of_the_wrong_kind_aborts_and_keeps_the_old_file(tmp_path):
    path = cmt.sites_path(tmp_path, "I1")
    cmt.write_inventory(path, "sites", [[("SiteCode", "A"), ("Name", "a")]], GENERATED)
    before = path.read_bytes()
    with pytest.raises(ValueError, match="Device"):
        cmt.write_inventory(path, "sites", api_devices(), GENERATED)
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == [path.name]


def test_failing_element_stream_leaves_old_file_byte_identical(tmp_path):
    path = cmt.devices_path(tmp_path, "I1")
    cmt.write_inventory(path, "devices", api_devices(), GENERATED)
    before = path.read_bytes()

    def broken():
        yield from api_devices()
        raise ConnectionError("the API went away")

    with pytest.raises(ConnectionError):
        cmt.write_inventory(path, "devices", broken(), datetime.now(timezone.utc))
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == [path.name]


def test_read_fields_first_occurrence_stripped_and_absent_empty(tmp_path):
    path = cmt.sites_path(tmp_path, "I1")
    items = [[("SiteCode", " A "), ("Name", "first"), ("Name", "second")],
             [("Name", "no code")],
             [("Address", "x"), ("SiteCode", "C"), ("Name", "")]]
    cmt.write_inventory(path, "sites", items, GENERATED)
    assert list(cmt.read_fields(path, "sites", "SiteCode", "Name")) == [("A", "first"), ("", "no code"), ("C", "")]
    assert list(cmt.read_fields(path, "sites", "Name")) == [("first",), ("no code",), ("",)]
    with pytest.raises(cmt.MissingInventory):
        cmt.read_fields(tmp_path / "nothing.cmt", "sites", "SiteCode")


def test_read_fields_refuses_a_hostile_file(tmp_path):
    path = tmp_path / "x.cmt"
    path.write_bytes(b'<!DOCTYPE x [<!ENTITY a "b">]><ZenithSites><Site><SiteCode>&a;</SiteCode></Site></ZenithSites>')
    with pytest.raises(UnsafeXML):
        list(cmt.read_fields(path, "sites", "SiteCode"))


class _Fields:
    def __init__(self, fields):
        self._fields = tuple(fields)

    def fields(self):
        return self._fields


class _WithElement(_Fields):
    def __init__(self, element):
        super().__init__(())  # the element is what gets written, not these (empty) fields
        self._element = element

    def xml_element(self):
        return self._element


def test_records_write_their_element_when_they_offer_one_else_their_fields(tmp_path):
    simple = [[("DeviceID", "D-1"), ("SiteCode", "S"), ("Name", "A & B")],
              [("DeviceID", "D-2"), ("SiteCode", "S"), ("Name", "<two>")]]
    parsed = safexml.parse_bytes(
        b"<Devices><Device><DeviceID>D-1</DeviceID><SiteCode>S</SiteCode><Name>A &amp; B</Name></Device>"
        b"<Device><DeviceID>D-2</DeviceID><SiteCode>S</SiteCode><Name>&lt;two&gt;</Name></Device></Devices>")
    paths = {name: tmp_path / f"{name}.cmt" for name in ("tuples", "records")}
    cmt.write_inventory(paths["tuples"], "devices", simple, GENERATED)
    cmt.write_inventory(paths["records"], "devices", [_Fields(simple[0]), _WithElement(parsed[1])], GENERATED)
    assert paths["tuples"].read_bytes() == paths["records"].read_bytes()
