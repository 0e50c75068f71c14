"""The RMM the engine suites run against (imported by them; holds no tests).

``ZENITHLINK_TEST_RMM`` picks it (see :func:`conftest.rmm_backend`): Continuum's sandbox by
default, else the sandbox N-sight or NinjaOne on loopback, driven through :class:`SnapshotRmm`.
A test that needs what the configured RMM cannot do is skipped with :func:`needs` (a write-back)
or :func:`needs_feed` (the RMM's own tickets as a change feed), the reason read from the
backend's declared capabilities, never from its name.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import pytest

from agent.backends.continuum.client import ContinuumClient
from agent.backends.ninjaone import NinjaOneClient
from agent.backends.nsight import NsightClient
from agent.ports.rmm import Device, RmmCapabilities, Site, WriteBack, capabilities_of
from agent.sandbox.ninjaone import NinjaSandbox
from agent.sandbox.ninjaone.server import CLIENT_ID, CLIENT_SECRET
from agent.sandbox.nsight import NsightSandbox

from conftest import rmm_backend

CLIENTS: dict[str, type] = {"continuum": ContinuumClient, "nsight": NsightClient, "ninjaone": NinjaOneClient}


def capabilities(backend: str | None = None) -> RmmCapabilities:
    """What the configured RMM backend declares (its client class carries the capabilities)."""
    name = backend or rmm_backend()
    if name not in CLIENTS:
        raise ValueError(f"ZENITHLINK_TEST_RMM={name!r}: use one of {', '.join(CLIENTS)}")
    return capabilities_of(CLIENTS[name])


def is_snapshot() -> bool:
    return capabilities().delivery == "snapshot"


def needs(write_back: WriteBack) -> pytest.MarkDecorator:
    """Skip the test when the configured RMM does not offer ``write_back``."""
    offered = capabilities()
    return pytest.mark.skipif(not offered.supports(write_back), reason=f"{offered.rmm} cannot {write_back.label}")


def lacks(write_back: WriteBack) -> pytest.MarkDecorator:
    """Run the test only where the configured RMM does not offer ``write_back`` (its refusal)."""
    offered = capabilities()
    return pytest.mark.skipif(offered.supports(write_back), reason=f"{offered.rmm} can {write_back.label}")


def needs_feed() -> pytest.MarkDecorator:
    """Skip the test unless the configured RMM delivers a change feed of its own tickets."""
    offered = capabilities()
    return pytest.mark.skipif(offered.delivery != "feed",
                              reason=f"{offered.rmm} delivers a snapshot of what fails now, not a change feed "
                                     "of its own tickets")


def needs_snapshot() -> pytest.MarkDecorator:
    offered = capabilities()
    return pytest.mark.skipif(offered.delivery != "snapshot",
                              reason=f"{offered.rmm} delivers a change feed, not a snapshot of failing checks")


@dataclass
class SnapshotRmm:
    """A snapshot RMM's sandbox on loopback, as the engine tests drive it: its INI section, quick
    clients (and ones with wrong credentials), its inventory, and its checks failing and recovering."""

    backend: str
    sandbox: Any

    @property
    def url(self) -> str:
        return str(self.sandbox.url)

    @property
    def rmm(self) -> str:
        return capabilities(self.backend).rmm

    def ini(self) -> str:
        if self.backend == "nsight":
            return (f"[Continuum]\nBackend=nsight\n[Nsight]\nServerURL={self.url}\n"
                    f"APIKey={self.sandbox.world.api_key}\n")
        return (f"[Continuum]\nBackend=ninjaone\n[NinjaOne]\nURL={self.url}\nClientID={CLIENT_ID}\n"
                f"ClientSecret={CLIENT_SECRET}\n")

    def client(self, *, wrong_credentials: bool = False) -> Any:
        if self.backend == "nsight":
            key = "not-the-key" if wrong_credentials else self.sandbox.world.api_key
            return NsightClient(self.url, key, timeout=5.0, min_poll_seconds=0)
        return NinjaOneClient(self.url, CLIENT_ID, "not-the-secret" if wrong_credentials else CLIENT_SECRET,
                              timeout=5.0)

    def sites(self) -> list[Site]:
        client = self.client()
        try:
            return sorted((s for page in client.site_pages() for s in page.items), key=lambda s: s.site_code)
        finally:
            client.close_connection()

    def devices(self) -> list[Device]:
        client = self.client()
        try:
            return [d for page in client.device_pages() for d in page.items]
        finally:
            client.close_connection()

    def fail(self, device_id: str, check: str) -> str:
        """The device's check ``check`` fails (again); its alert id."""
        return str(self.sandbox.fail(device_id, check))

    def recover(self, alert_id: str) -> None:
        self.sandbox.recover(alert_id)

    def notes(self, alert_id: str) -> list[str]:
        return list(self.sandbox.notes(alert_id))

    def cleared(self, alert_id: str) -> str | None:
        cleared: str | None = self.sandbox.cleared(alert_id)
        return cleared

    def outage(self, on: bool) -> None:
        self.sandbox.outage(on)


@contextmanager
def snapshot_rmm(backend: str | None = None) -> Iterator[SnapshotRmm]:
    """The sandbox of ``backend`` (default: the configured snapshot RMM), started and stopped."""
    name = backend or rmm_backend()
    sandbox = NsightSandbox() if name == "nsight" else NinjaSandbox() if name == "ninjaone" else None
    if sandbox is None:
        raise ValueError(f"{name!r} is not a snapshot RMM backend; use nsight or ninjaone")
    with sandbox:
        yield SnapshotRmm(name, sandbox)
