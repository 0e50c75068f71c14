"""``zenithlink psa``: asks the PSA port for its administration, which only a real PSA's backend has."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from agent.app import App
from agent.cli import cli
from agent.errors import UsageError


@pytest.mark.parametrize("args", [["psa", "probe"], ["psa", "employees"], ["psa", "map-employee", "tech1",
                                                                            "CRD" + "0" * 17]])
def test_a_backend_without_administration_is_told_plainly(tmp_path, args) -> None:
    ini = tmp_path / "CmtZenithLink.ini"
    ini.write_text("[Continuum]\nInstanceID=T1\n", encoding="utf-8")
    app = App(ini)
    try:
        app.state.add_employee("tech1")
    finally:
        app.close()
    result = CliRunner().invoke(cli, ["--config", str(ini), *args])
    assert isinstance(result.exception, UsageError)  # exit code 2 from the command line's main
    assert "is for Backend=rangermsp" in str(result.exception)


@pytest.mark.parametrize("backend", ["embedded", "memory"])
def test_the_psas_kept_by_the_agent_have_no_administration(tmp_path, backend) -> None:
    ini = tmp_path / "CmtZenithLink.ini"
    ini.write_text(f"[Continuum]\nInstanceID=T1\n[RangerMSP]\nBackend={backend}\n", encoding="utf-8")
    app = App(ini)
    try:
        assert app.psa.administration is None
    finally:
        app.close()
