"""Writing the devices inventory: ``write_inventory`` against a bare ``f.write`` loop.

The baseline writes pre-rendered strings (all held in memory, no escaping, no atomic
rename), so it is the floor for time and shows what holding the whole inventory costs in
memory. Each side runs in a fresh interpreter so its peak RSS is its own.
"""

from __future__ import annotations

import multiprocessing
import tempfile
from datetime import datetime, timezone
from pathlib import Path

from bench.common import Table, peak_rss_mb, stopwatch


def _device(i: int) -> list[tuple[str, str]]:
    return [("DeviceID", str(1_000_000 + i)), ("Name", f"WS-{i:06d}"), ("SiteID", str(100 + i % 250)),
            ("SiteCode", f"SITE-{i % 250}"), ("DeviceType", "Desktop"), ("OS", "Windows 11 Pro 23H2"),
            ("Manufacturer", "Dell Inc."), ("Model", "OptiPlex 7010"), ("SerialNumber", f"SN{i:08X}"),
            ("IPAddress", f"10.{i % 250}.{i // 250 % 250}.{i % 200 + 1}"), ("LastSeen", "2026-11-27T09:58:00Z"),
            ("Status", "Online")]


def _run_writer(folder: str, count: int, queue) -> None:
    from dbsys.cmt import write_inventory

    base = peak_rss_mb()
    with stopwatch() as gen:
        for i in range(count):
            _device(i)
    with stopwatch() as t:
        write_inventory(Path(folder) / "ZenithDevices_B.cmt", "devices", (_device(i) for i in range(count)),
                        datetime.now(timezone.utc))
    queue.put((t[0] - gen[0], peak_rss_mb(), base))


def _run_baseline(folder: str, count: int, queue) -> None:
    from xml.sax.saxutils import escape

    base = peak_rss_mb()
    rendered = ["<Device>" + "".join(f"<{k}>{escape(v)}</{k}>" for k, v in _device(i)) + "</Device>\n"
                for i in range(count)]
    with stopwatch() as t:
        with open(Path(folder) / "baseline.cmt", "w", encoding="utf-8") as fh:
            fh.write(f'<?xml version="1.0" encoding="utf-8"?>\n<ZenithDevices count="{count}">\n')
            for line in rendered:
                fh.write(line)
            fh.write("</ZenithDevices>\n")
    queue.put((t[0], peak_rss_mb(), base))


def _measure(target, folder: str, count: int) -> tuple[float, float, float]:
    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(target=target, args=(folder, count, queue))
    proc.start()
    result = queue.get(timeout=600)
    proc.join()
    return result


def main(quick: bool) -> Table:
    count = 10_000 if quick else 100_000
    table = Table(f"cmt: write {count:,} devices (12 children each)")
    with tempfile.TemporaryDirectory() as folder:
        base_s, base_rss, base_start = _measure(_run_baseline, folder, count)
        ours_s, ours_rss, ours_start = _measure(_run_writer, folder, count)
    # Our time excludes making the items (measured apart in the same process); the
    # baseline's items were rendered before its clock started.
    table.add("write time (escaping, atomic rename)", ours_s, "s", baseline=base_s, higher_is_better=False)
    table.add("devices per second", count / ours_s, "dev/s", baseline=count / base_s)
    table.add("peak RSS growth during the run", ours_rss - ours_start, "MB", baseline=base_rss - base_start,
              higher_is_better=False, target="flat: does not grow with the count")
    table.add("peak RSS", ours_rss, "MB", baseline=base_rss, higher_is_better=False)
    return table
