"""What to do with a site linked to an account gone from the PSA is the sync layer's policy
(agent.sync.accounts), not the port's: the plain PsaView only reads the link."""

from __future__ import annotations

import pytest
from stores import embedded

from agent.ports.psa import PsaView
from agent.sync import accounts


@pytest.fixture()
def stores(tmp_path):
    with embedded(tmp_path / "zenithlink.sqlite3") as (state, psa):
        yield state, psa


def test_the_hooks_view_follows_an_account_merged_in_the_psa(stores):
    state, psa = stores
    old, new = psa.add_account("Acme"), psa.add_account("Acme Inc")
    state.link_site("HQ", old)
    state.link_site("BR", old)
    psa.merge_account(old, new)  # in the PSA itself: the links still name the account that is gone

    assert accounts.psa_view(psa, state).account_for_site("HQ") == new
    assert state.site_links() == {"HQ": new, "BR": new}
    assert [row["action"] for row in state.audit_log()] == ["follow_merged_account"]


def test_the_hooks_view_unlinks_the_sites_of_an_account_nothing_took_over(stores):
    state, psa = stores
    gone = psa.add_account("Gone")
    state.link_site("HQ", gone)
    psa.delete_account(gone)

    assert accounts.psa_view(psa, state).account_for_site("HQ") is None
    assert state.site_links() == {}
    assert [row["action"] for row in state.audit_log()] == ["unlink_missing_account"]


def test_the_ports_view_alone_reads_the_link_and_writes_nothing(stores):
    state, psa = stores
    old, new = psa.add_account("Acme"), psa.add_account("Acme Inc")
    state.link_site("HQ", old)
    psa.merge_account(old, new)

    assert PsaView(psa, state).account_for_site("HQ") == old
    assert state.site_links() == {"HQ": old} and state.audit_log() == []
