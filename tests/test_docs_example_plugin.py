"""The example plugin of docs/plugins.md, loaded from a PluginFolder like any third-party plugin."""

from __future__ import annotations

from pathlib import Path

import pytest
from stores import open_embedded

from agent.backends.continuum.models import Ticket
from agent.plugins import get_plugin_manager
from agent.ports.psa import PsaView
from config.loader import parse_settings

EXAMPLES = Path(__file__).resolve().parent.parent / "docs" / "examples"


@pytest.fixture()
def psa(tmp_path):
    s, psa = open_embedded(tmp_path / "state.sqlite3")
    yield PsaView(psa, s)
    s.close()


def manager(tmp_path, switch: str = ""):
    text = (f"[Plugins]\nPluginFolders={EXAMPLES}\n{switch}\n"
            "[plugin:vip_accounts]\nSites=ACME-HQ; acme-lab\nAccount=VIP customers\n")
    settings = parse_settings(text, base_dir=tmp_path)
    return get_plugin_manager(settings), settings


def resolve(pm, settings, psa, site_code: str) -> str:
    return pm.hook.zenith_resolve_account(ticket=Ticket(ticket_id="9001", site_code=site_code), psa=psa,
                                          settings=settings)


def test_vip_sites_go_to_the_vip_account(tmp_path, psa):
    pm, settings = manager(tmp_path)
    assert pm.infos["vip_accounts"].enabled and pm.infos["vip_accounts"].source.startswith("folder")

    first = resolve(pm, settings, psa, "ACME-HQ")
    assert psa.get_account(first).name == "VIP customers"
    assert resolve(pm, settings, psa, "ACME-LAB") == first  # found again, not created twice
    assert len([a for a in psa.list_accounts() if a.name == "VIP customers"]) == 1


def test_other_sites_fall_through_to_the_built_in_resolver(tmp_path, psa):
    pm, settings = manager(tmp_path)
    other = resolve(pm, settings, psa, "GLOBEX")
    assert psa.get_account(other).name == "[Continuum AUTO CREATED] GLOBEX"
    assert psa.account_for_site("GLOBEX") == other


def test_switched_off_the_default_comes_back(tmp_path, psa):
    pm, settings = manager(tmp_path, "vip_accounts=N")
    assert pm.infos["vip_accounts"].enabled is False
    account = resolve(pm, settings, psa, "ACME-HQ")
    assert psa.get_account(account).name == "[Continuum AUTO CREATED] ACME-HQ"
    assert all(a.name != "VIP customers" for a in psa.list_accounts())
