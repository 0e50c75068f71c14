"""The RMM contract against the N-sight client, over the sandbox N-sight on loopback."""

import pytest
from rmm_contract import AlertRmmContract

from agent.backends.nsight import NsightClient
from agent.sandbox.nsight import NsightSandbox


class NsightHarness(NsightSandbox):
    def client(self, key: str = "nsight-demo-key") -> NsightClient:
        return NsightClient(self.url, key, timeout=5.0, min_poll_seconds=0)

    def client_with_wrong_credentials(self) -> NsightClient:
        return self.client("not-the-key")


class TestNsightClient(AlertRmmContract):
    @pytest.fixture
    def harness(self):
        with NsightHarness() as sandbox:
            yield sandbox
