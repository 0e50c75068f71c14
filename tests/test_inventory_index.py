"""Look-ups in the downloaded inventory files (dbsys.inventory)."""

from __future__ import annotations

import os
from datetime import datetime, timezone
from types import SimpleNamespace

from dbsys import cmt
from dbsys import inventory as inventory_index

GENERATED = datetime(2026, 11, 27, 9, 0, tzinfo=timezone.utc)


def _settings(tmp_path):
    return SimpleNamespace(dbsys_folder=tmp_path, instance_id="T1")


def test_records_come_back_as_written_whatever_children_each_has(tmp_path):
    settings = _settings(tmp_path)
    devices = [
        [("DeviceID", "D1"), ("SiteCode", "S1"), ("Name", "DC01"), ("SerialNumber", "")],
        [("DeviceID", "D2"), ("SiteCode", "S1"), ("Name", "WS02"), ("Model", "OptiPlex 7090")],
        [("DeviceID", "D3"), ("Name", "Tab\there"), ("SiteCode", "S2")],
    ]
    cmt.write_inventory(cmt.devices_path(tmp_path, "T1"), "devices", devices, GENERATED)

    assert inventory_index.device_record(settings, "D1") == {"DeviceID": "D1", "SiteCode": "S1", "Name": "DC01",
                                                             "SerialNumber": ""}
    assert inventory_index.device_record(settings, "D2") == {"DeviceID": "D2", "SiteCode": "S1", "Name": "WS02",
                                                             "Model": "OptiPlex 7090"}
    assert inventory_index.device_lookup(settings)("D3") == {"DeviceID": "D3", "Name": "Tab\there", "SiteCode": "S2"}
    assert inventory_index.device_record(settings, "D9") is None


def test_a_rewritten_file_is_read_again(tmp_path):
    settings = _settings(tmp_path)
    path = cmt.sites_path(tmp_path, "T1")
    cmt.write_inventory(path, "sites", [[("SiteCode", "S1"), ("Name", "Acme")]], GENERATED)
    assert inventory_index.site_record(settings, "S1") == {"SiteCode": "S1", "Name": "Acme"}

    cmt.write_inventory(path, "sites", [[("SiteCode", "S1"), ("Name", "Acme, Inc")],
                                        [("SiteCode", "S2"), ("Name", "B")]], GENERATED)
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))  # a coarse clock must not hide it
    assert inventory_index.site_record(settings, "S1") == {"SiteCode": "S1", "Name": "Acme, Inc"}
    assert inventory_index.site_record(settings, "S2") == {"SiteCode": "S2", "Name": "B"}


def test_no_file_means_no_records(tmp_path):
    assert inventory_index.site_record(_settings(tmp_path), "S1") is None


def test_a_damaged_file_holds_no_record_and_says_why_until_it_is_replaced(tmp_path):
    settings = _settings(tmp_path)
    path = cmt.sites_path(tmp_path, "T1")
    path.write_bytes(b"<?xml version='1.0'?><ZenithSites><Site><SiteCode>S1</SiteCode>")  # cut short

    assert inventory_index.site_record(settings, "S1") is None
    assert "ZenithSites_T1.cmt cannot be read" in inventory_index.problem(settings, "sites")

    cmt.write_inventory(path, "sites", [[("SiteCode", "S1"), ("Name", "Acme")]], GENERATED)
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))
    assert inventory_index.site_record(settings, "S1") == {"SiteCode": "S1", "Name": "Acme"}
    assert inventory_index.problem(settings, "sites") is None
