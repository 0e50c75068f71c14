"""Inventory files: streaming round trip, exact count, failed refresh leaves the old file."""

from __future__ import annotations

import os
from datetime import datetime, timezone

import pytest

from dbsys import cmt
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
        [("SiteID", "101"), ("SiteCode", "ACME-HQ"), ("Name", "Smith & Sons <HQ>"), ("ClientName", 'A "quoted" \'name\'')],
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
