"""The RMM contract against the Continuum client, over the sandbox Continuum on loopback."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from rmm_contract import RmmContract

from agent.backends.continuum import CircuitBreaker, ContinuumClient, RetryPolicy
from agent.ports.rmm import RmmClient
from agent.sandbox import SandboxServer

FAST = RetryPolicy(max_attempts=3, base=0.001, cap=0.01)


class SandboxHarness:
    def __init__(self, sandbox: SandboxServer) -> None:
        self.sandbox = sandbox

    def client(self) -> RmmClient:
        return ContinuumClient(self.sandbox.url, "demo", retry=FAST, timeout=5.0,
                               circuit=CircuitBreaker(failure_threshold=50))

    def client_with_wrong_credentials(self) -> RmmClient:
        return ContinuumClient(self.sandbox.url, "not-the-code", retry=FAST, timeout=5.0)

    def open_ticket(self, site_code: str, device_id: str | None, title: str) -> str:
        return str(self.sandbox.world.open_ticket(site_code=site_code, device_id=device_id, title=title)["ticket_id"])

    def add_note(self, ticket_id: str, text: str) -> None:
        self.sandbox.world.add_note(ticket_id, text)

    def set_activated(self, activated: bool) -> None:
        self.sandbox.world.set_activated(activated)

    def rate_limit(self, seconds: int) -> None:
        self.sandbox.faults.set(rate_limit_count=1, retry_after=seconds)

    def outage(self, on: bool) -> None:
        self.sandbox.faults.set(outage=on)


class TestContinuumClient(RmmContract):
    @pytest.fixture
    def harness(self) -> Iterator[SandboxHarness]:
        with SandboxServer(psg="demo", seed=1, sites=6, devices=30, tickets=0) as sandbox:
            yield SandboxHarness(sandbox)


def test_the_client_has_every_method_of_the_port_with_the_same_parameters() -> None:
    import inspect

    from agent.ports.rmm import RmmClient as Port

    for name, member in vars(Port).items():
        if name.startswith("_") or not callable(member):
            continue
        ours = inspect.signature(getattr(ContinuumClient, name))
        theirs = inspect.signature(member)
        assert [(p.name, p.kind) for p in ours.parameters.values()] == \
            [(p.name, p.kind) for p in theirs.parameters.values()], name
