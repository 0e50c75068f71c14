"""Deterministic generation of a realistic Continuum world from a seed.

Everything is drawn from one ``random.Random``, so the same seed gives the same clients,
sites, devices and tickets on every run and every machine.
"""

from __future__ import annotations

import random
import string
import unicodedata
from datetime import datetime, timedelta, timezone

from agent.sandbox import names
from agent.sandbox.model import Device, Site, iso

BASE_TIME = datetime(2026, 11, 27, 8, 0, 0, tzinfo=timezone.utc)
TICKET_DATE = "20261127"


def client_names(rng: random.Random, count: int) -> list[str]:
    """``count`` distinct company names: the fixed tricky ones first, then synthetic ones."""
    out = list(names.FIXED_CLIENTS[:count])
    seen = set(out)
    while len(out) < count:
        name = f"{rng.choice(names.WORDS_A)} {rng.choice(names.WORDS_B)} {rng.choice(names.SUFFIXES)}".strip()
        if name in seen:
            name = f"{name} {len(out)}"
        seen.add(name)
        out.append(name)
    return out


def code_prefix(client: str, taken: set[str]) -> str:
    """A short upper-case ASCII prefix for site codes, unique among ``taken``."""
    ascii_name = unicodedata.normalize("NFKD", client).encode("ascii", "ignore").decode()
    first = next((w for w in ascii_name.split() if any(c.isalnum() for c in w)), "SITE")
    base = "".join(c for c in first.upper() if c.isalnum())[:6] or "SITE"
    prefix, k = base, 2
    while prefix in taken:
        prefix, k = f"{base}{k}", k + 1
    taken.add(prefix)
    return prefix


def _address(rng: random.Random) -> str | None:
    roll = rng.random()
    if roll < 0.1:
        return None
    if roll < 0.15:
        return ""
    return f"{rng.randint(1, 250)} {rng.choice(names.STREETS)}, {rng.choice(names.CITIES)}"


def generate_sites(rng: random.Random, count: int) -> tuple[list[Site], dict[str, str]]:
    """The sites, and each site code's device-name prefix."""
    sites: list[Site] = []
    prefixes: dict[str, str] = {}
    taken: set[str] = set()
    clients = client_names(rng, count)  # an upper bound: every client has at least one site
    client_no = 0
    while len(sites) < count:
        client = clients[client_no]
        client_no += 1
        prefix = code_prefix(client, taken)
        for branch in range(1, rng.choice((1, 1, 2, 3)) + 1):
            if len(sites) == count:
                break
            code = f"{prefix}-HQ" if branch == 1 else f"{prefix}-BR{branch}"
            name = f"{client} - Head Office" if branch == 1 else f"{client} - Branch {branch}"
            sites.append(Site(100 + len(sites) + 1, code, name, client_no, client, _address(rng)))
            prefixes[code] = prefix
    return sites, prefixes


def _optional(rng: random.Random, value: str) -> str | None:
    roll = rng.random()
    if roll < 0.04:
        return None
    if roll < 0.07:
        return ""
    return value


def _serial(rng: random.Random, manufacturer: str) -> str | None:
    roll = rng.random()
    if roll < 0.03:
        return None
    if roll < 0.12:
        return rng.choice(names.JUNK_SERIALS)
    alphabet = string.ascii_uppercase + string.digits
    if manufacturer == "Dell Inc.":
        return "".join(rng.choices(alphabet, k=7))
    if manufacturer in ("HP", "HPE"):
        return "CZC" + "".join(rng.choices(string.digits, k=7))
    if manufacturer == "LENOVO":
        return "PF" + "".join(rng.choices(alphabet, k=6))
    return "".join(rng.choices(alphabet, k=10))


def make_device(rng: random.Random, number: int, site: Site, site_index: int, name: str,
                kind: tuple) -> Device:
    dtype, maker, models, systems, _tag = kind
    mac = ":".join(f"{b:02X}" for b in rng.randbytes(6))
    seen = BASE_TIME - timedelta(minutes=rng.randint(0, 60 * 24 * 14))
    return Device(
        device_id=f"D-{number:06d}", site_code=site.site_code, name=name,
        friendly_name=_optional(rng, rng.choice(names.FRIENDLY[dtype])),
        device_type=_optional(rng, dtype), manufacturer=_optional(rng, maker),
        model=_optional(rng, rng.choice(models)), serial_number=_serial(rng, maker),
        operating_system=_optional(rng, rng.choice(systems)),
        ip_address=_optional(rng, f"10.{site_index % 250}.{rng.randint(0, 3)}.{rng.randint(2, 254)}"),
        mac_address=_optional(rng, mac), last_seen=_optional(rng, iso(seen)),
    )


def generate_devices(rng: random.Random, count: int, sites: list[Site],
                     prefixes: dict[str, str]) -> list[Device]:
    if not sites:
        return []
    devices: list[Device] = []
    counters: dict[tuple[str, str], int] = {}
    for number in range(1, count + 1):
        index = rng.randrange(len(sites))
        site = sites[index]
        kind = rng.choice(names.HARDWARE)
        key = (site.site_code, kind[4])
        counters[key] = counters.get(key, 0) + 1
        name = f"{prefixes.get(site.site_code, 'DEV')}-{kind[4]}{counters[key]:02d}"
        devices.append(make_device(rng, number, site, index, name, kind))
    return devices


def ticket_spec(rng: random.Random, sites: list[Site], devices: list[Device]) -> dict:
    """Arguments for ``World.open_ticket``: an alert on a device, an alert on a site, or a
    NOC ticket with no site, in a realistic proportion."""
    roll = rng.random()
    priority = rng.choice(names.PRIORITIES)
    if roll < 0.6 and devices:
        device = rng.choice(devices)
        title, text = rng.choice(names.ALERTS)
        return {"site_code": device.site_code, "device_id": device.device_id, "title": title,
                "description": text.format(device=device.name), "priority": priority, "source": "Alert"}
    if roll < 0.8 and sites:
        site = rng.choice(sites)
        title, text = rng.choice(names.SITE_ALERTS)
        return {"site_code": site.site_code, "device_id": None, "title": title,
                "description": text.format(site=site.name), "priority": priority, "source": "Alert"}
    title, text = rng.choice(names.NOC_TICKETS)
    # Both forms of "no site" are allowed by the contract; clients must accept each.
    return {"site_code": rng.choice((None, "")), "device_id": None, "title": title,
            "description": text, "priority": rng.choice(("Medium", "Low")), "source": "NOC"}
