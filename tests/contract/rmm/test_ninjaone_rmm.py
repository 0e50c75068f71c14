"""The RMM contract against the NinjaOne client, over the sandbox NinjaOne on loopback."""

import pytest
from rmm_contract import AlertRmmContract

from agent.backends.ninjaone import NinjaOneClient
from agent.sandbox.ninjaone import NinjaSandbox
from agent.sandbox.ninjaone.server import CLIENT_ID, CLIENT_SECRET


class NinjaHarness(NinjaSandbox):
    def client(self, secret: str = CLIENT_SECRET) -> NinjaOneClient:
        return NinjaOneClient(self.url, CLIENT_ID, secret, timeout=5.0)

    def client_with_wrong_credentials(self) -> NinjaOneClient:
        return self.client("not-the-secret")


class TestNinjaOneClient(AlertRmmContract):
    @pytest.fixture
    def harness(self):
        with NinjaHarness() as sandbox:
            yield sandbox
