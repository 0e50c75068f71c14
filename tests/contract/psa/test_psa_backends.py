"""The PSA contract against every built-in PSA backend."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from psa_contract import PsaContract
from rangermsp_support import settings, simulator_psa

from agent.backends.embedded import EmbeddedPsa, StateStore
from agent.backends.memory import MemoryPsa
from agent.backends.rangermsp import open_backend
from agent.backends.rangermsp.binding import load_windows_libraries
from agent.sandbox.rangermsp import make_installation
from agent.sandbox.rangermsp.dll import built_dlls, install_dlls, unavailable
from agent.sandbox.rangermsp.wire import serve


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


@pytest.mark.skipif(unavailable() is not None, reason=unavailable() or "")
class TestRangerMspPsaOverTheSimulatorsRealDlls(PsaContract):
    """The backend's real Windows loading path (load_windows_libraries: PE check, WinDLL, stdcall)
    over the simulator built as x64 DLLs, which forward every call to the wire server."""

    arch = "x64"

    @pytest.fixture
    def psa(self, tmp_path):
        dlls = built_dlls()
        assert dlls is not None
        installation = make_installation(tmp_path / "RangerMSP")
        install_dlls(installation, dlls, self.arch)
        with serve(installation):
            state = SimpleNamespace(db=SimpleNamespace(path=tmp_path / "zenithlink.sqlite3"))
            conf = settings(tmp_path, rangermsp_folder=installation)
            psa = open_backend(load_windows_libraries(installation), conf, state, installation)
            try:
                yield psa
            finally:
                psa.close()


@pytest.mark.skipif(unavailable() is not None, reason=unavailable() or "")
class TestRangerMspPsaThroughThe32BitHost(TestRangerMspPsaOverTheSimulatorsRealDlls):
    """RangerMSP's own case: 32-bit (x86) DLLs and a 64-bit Python, so every call goes through
    msl-loadlib's 32-bit host process (host.py, host32.py)."""

    arch = "x86"
