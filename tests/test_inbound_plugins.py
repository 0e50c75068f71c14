"""Policies of the inbound sync are plugins: overriding and switching them through the INI."""

from __future__ import annotations

import threading
from types import SimpleNamespace

from agent.backends.continuum.models import Change, Note, Ticket
from agent.hookspecs import hookimpl
from plugins import echo_filter, ticket_format

from rmm_support import needs_feed
from test_inbound_support import Env, env, sandbox  # noqa: F401 - fixtures

pytestmark = needs_feed()  # the inbound engine reads a change-feed RMM's tickets


class Vip:
    """Sends every ticket of one site to the VIP desk account."""

    site_code = account = None

    @hookimpl
    def zenith_resolve_account(self, ticket, psa, settings):
        return self.account if ticket.site_code == self.site_code else None


def _route_one_ticket(folder, sandbox, extra: str) -> tuple[str, str, str]:
    """(account the ticket landed in, the VIP desk, the account linked to the site)."""
    folder.mkdir()
    vip = Vip()
    env = Env(folder, sandbox, extra=extra, plugins=[("vip", vip)])
    try:
        vip.site_code = env.site_codes()[0]
        vip.account = env.psa.add_account("VIP desk")
        linked = env.psa.add_account("ACME")
        env.state.link_site(vip.site_code, linked)
        tid = env.open(vip.site_code)
        env.sync()
        return env.ticket_of(tid).account_rec_id, vip.account, linked
    finally:
        env.close()


def test_an_inline_account_resolver_wins_over_the_builtin_and_the_ini_can_switch_it_off(tmp_path, sandbox):
    landed, vip_desk, _ = _route_one_ticket(tmp_path / "on", sandbox, "")
    assert landed == vip_desk

    landed, _, linked = _route_one_ticket(tmp_path / "off", sandbox, "[Plugins]\nvip=N\n")
    assert landed == linked  # [Plugins] vip=N: the built-in chain decides again


def test_switching_off_the_echo_filter_turns_echoes_into_history(tmp_path, sandbox):
    env = Env(tmp_path, sandbox, extra="[Plugins]\necho_filter=N\n")
    try:
        tid = env.open(env.site_codes()[0])
        env.sync()
        env.app.rmm.add_note(tid, "From the PSA.", "jsmith", idempotency_key="k1")
        assert env.sync() == 1
        assert "From the PSA." in env.ticket_of(tid).history[-1].text
    finally:
        env.close()


def test_asset_of_another_account_is_not_used(env):
    site = env.site_codes()[0]
    device = env.devices_of(site)[0]
    customer = env.psa.add_account("ACME")
    other = env.psa.add_account("Someone else")
    env.state.link_site(site, customer)
    foreign = env.psa.add_asset(device.name, other)
    env.state.link_device(device.device_id, foreign)
    tid = env.open(site, device.device_id)

    env.sync()

    ticket = env.ticket_of(tid)
    assert ticket.account_rec_id == customer
    assert ticket.asset_rec_id is None
    assert device.device_id in ticket.description


def _change(origin: str, note_origin: str | None = None) -> Change:
    note = Note("N-1", "text", "NOC", "", note_origin) if note_origin is not None else None
    return Change("c-1", "NoteAdded", Ticket("1", origin=origin), note)


def test_echo_filter_reads_the_origin_of_the_note_first():
    assert echo_filter.zenith_skip_change(_change("NOC", "PSA"), None) is True
    assert echo_filter.zenith_skip_change(_change("PSA", "NOC"), None) is None
    assert echo_filter.zenith_skip_change(_change(" psa "), None) is True
    assert echo_filter.zenith_skip_change(_change("System"), None) is None
    assert echo_filter.zenith_skip_change(_change(""), None) is None


def test_ticket_format_describes_the_device_only_without_an_asset():
    ticket = Ticket("202611270001", title="Disk full", description="Disk full", priority="High", source="Alert",
                    device_id="D-1")
    device = {"Name": "ACME-DC01", "SerialNumber": "7XK2Q13", "Model": ""}
    text = ticket_format.zenith_ticket_description(ticket, device, None, SimpleNamespace())
    assert text.count("Disk full") == 1
    assert "ACME-DC01" in text and "7XK2Q13" in text and "Model" not in text
    assert "202611270001" in text
    with_asset = ticket_format.zenith_ticket_description(ticket, device, "AST1", SimpleNamespace())
    assert "ACME-DC01" not in with_asset
    unknown = ticket_format.zenith_ticket_description(ticket, None, None, SimpleNamespace())
    assert "not in the downloaded inventory" in unknown


class LockProbe:
    """A skip rule that looks whether another thread can read the store while it runs."""

    def __init__(self, app) -> None:
        self.app = app
        self.blocked: list[bool] = []
        self.readers: list[threading.Thread] = []

    @hookimpl
    def zenith_skip_change(self, change, settings):
        reader = threading.Thread(target=self.app.state.get_state, args=("anything",))
        self.readers.append(reader)
        reader.start()
        reader.join(timeout=2)  # a reader that waits this long waits for a lock the hook's thread holds
        self.blocked.append(reader.is_alive())
        return None


def test_the_skip_rule_runs_without_holding_the_store(tmp_path, sandbox):
    env = Env(tmp_path, sandbox)
    try:
        probe = LockProbe(env.app)
        env.app.pm.register(probe, name="probe")
        env.open(env.site_codes()[0])
        assert env.sync() == 1
        for reader in probe.readers:
            reader.join()
        assert probe.blocked == [False]  # the store was free for other threads while the hook ran
    finally:
        env.close()
