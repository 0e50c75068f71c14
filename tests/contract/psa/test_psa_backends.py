"""The PSA contract against every built-in PSA backend."""

from __future__ import annotations

import pytest
from psa_contract import PsaContract
from rangermsp_support import simulator_psa

from agent.backends.embedded import EmbeddedPsa, StateStore
from agent.backends.memory import MemoryPsa


class TestEmbeddedPsa(PsaContract):
    @pytest.fixture
    def psa(self, tmp_path):
        state = StateStore(tmp_path / "zenithlink.sqlite3")
        yield EmbeddedPsa(state.db)
        state.close()


class TestMemoryPsa(PsaContract):
    @pytest.fixture
    def psa(self):
        return MemoryPsa()


class TestRangerMspPsaOverTheSimulator(PsaContract):
    @pytest.fixture
    def psa(self, tmp_path):
        with simulator_psa(tmp_path) as (psa, _db):
            yield psa
