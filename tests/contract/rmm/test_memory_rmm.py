"""The RMM contract against the in-memory RMM (the engines' test double)."""

import pytest
from rmm_contract import AlertRmmContract

from agent.backends.memory_rmm import MemoryRmm


class MemoryHarness(MemoryRmm):
    def client(self) -> MemoryRmm:
        return self.with_key("memory")

    def client_with_wrong_credentials(self) -> MemoryRmm:
        return self.with_key("not-the-key")

    def fail(self, device_id: str, check: str) -> str:  # type: ignore[override]
        return super().fail(device_id, check).alert_id


class TestMemoryRmm(AlertRmmContract):
    @pytest.fixture
    def harness(self) -> MemoryHarness:
        rmm = MemoryHarness()
        for n in range(6):
            rmm.add_site(f"S{n}", f"Site {n}", client_name=f"Client {n // 2}")
        for n in range(30):
            rmm.add_device(f"D{n:03}", f"S{n % 6}", f"PC-{n:03}")
        return rmm
