"""The outbound registry is the one list of actions: every action is a drop, a command, a form and a
line of docs/actions.md, offered exactly when the configured RMM declares the write-back it needs;
the sender's texts name that RMM; a close-ticket drop is one unit of work opened by its caller."""

from __future__ import annotations

import contextlib
import html
import json

import pytest

from agent.backends.memory_rmm import MemoryRmm
from agent.docgen.actions import ACTIONS_DOC, render_actions_md
from agent.ports.rmm import RmmCapabilities, RmmUnsupported, WriteBack
from agent.sandbox import SandboxServer
from agent.sync import records
from agent.sync.links import LinksManager
from agent.sync.outbound import registry
from agent.sync.outbound.registry import OutboundAction
from agent.sync.outbound.sender import OutboxSender
from agent.sync.requests import RequestProcessor, drop_table
from dbsys import drops

from test_outbound_support import PSG, drop, make_env, request_xml, result
from test_web_support import admin, console  # noqa: F401 - fixtures

ASKED = [a for a in registry.ACTIONS if a.take is not None]
CAPABILITIES = {
    "nothing": frozenset(),
    "notes and closes": frozenset({WriteBack.ADD_NOTE, WriteBack.CLOSE}),
    "every write-back": frozenset(WriteBack),
}
# What a person fills in for each action (by the drop's field names), beside the ticket.
INPUTS = {"create": {"AssignTo": "NOC", "Note": "look"}, "assign": {"AssignTo": "VSD", "Note": "yours"},
          "note": {"Note": "a note"}, "close": {"Note": "fixed"}}
CLI_ARGS = {"create": ["--assign", "NOC"], "assign": ["--assign", "VSD", "--note", "yours"], "note": ["a note"],
            "close": ["--note", "fixed"]}
FORMS = {"create": {"assign": "NOC"}, "assign": {"assign": "VSD", "note": "yours"}, "note": {"note": "a note"},
         "close": {"note": "fixed"}}


def rmm_offering(write_backs: frozenset[WriteBack]) -> MemoryRmm:
    rmm = MemoryRmm()
    rmm.capabilities = RmmCapabilities(rmm="Test RMM", delivery="snapshot", write_backs=write_backs)
    return rmm


@pytest.fixture(scope="module")
def sandbox():
    with SandboxServer(psg=PSG, seed=11, sites=4, devices=12) as server:
        yield server


@pytest.fixture
def env(tmp_path, sandbox):
    made = make_env(tmp_path, sandbox)
    yield made
    made.app.close()


def a_ticket_for(env, action: OutboundAction) -> str:
    return env.linked_ticket()[0] if action.on_linked else env.ticket()


# -- one list ---------------------------------------------------------------------------------

def test_every_ticket_drop_is_an_action_of_the_registry_and_names_are_unique():
    ticket_drops = {name for name, spec in drop_table().items() if "TicketRecID" in spec.required}
    assert ticket_drops == {a.drop for a in ASKED}
    for attribute in ("row", "drop", "command", "form"):
        names = [getattr(a, attribute) for a in registry.ACTIONS if getattr(a, attribute)]
        assert len(names) == len(set(names)), attribute
    assert registry.CLOSE_TICKET.drop == "CompleteTicket" and registry.by_row("close") is registry.CLOSE_TICKET


@pytest.mark.parametrize("action", ASKED, ids=lambda a: a.row)
def test_every_action_is_accepted_as_a_drop_with_its_fields(action):
    children = {"TicketRecID": "TKT00000000000000001", **INPUTS[action.row]}
    parsed = drops.parse_request(request_xml("r-1", action.drop, **children), "r-1.xml", drop_table())
    assert parsed.action == action.drop and parsed.fields == children
    with pytest.raises(drops.BadRequest) as info:
        drops.parse_request(request_xml("r-2", action.drop, TicketRecID="T", Unknown="x"), "r-2.xml", drop_table())
    assert info.value.code == "BadValue"


def test_a_create_drop_may_name_the_site_its_refusal_asks_for(env):
    second = env.sandbox.world._site_list()[1].site_code
    env.state.link_site(second, env.account, by="jsmith")
    rec_id = env.ticket(asset=False)
    processor = RequestProcessor(env.app)
    processor.process({drop(env.requests_folder, "s-1.xml", request_xml("s-1", "CreateTicket", TicketRecID=rec_id,
                                                                        AssignTo="NOC"))})
    assert "SiteCode=" in result(env.requests_folder, "s-1")["error_message"]
    processor.process({drop(env.requests_folder, "s-2.xml", request_xml("s-2", "CreateTicket", TicketRecID=rec_id,
                                                                        AssignTo="NOC", SiteCode=second))})
    assert result(env.requests_folder, "s-2")["status"] == "Queued"
    assert env.state.outbox_for_ticket(rec_id)[0].payload["site_code"] == second
    processor.close()


# -- offered exactly when the configured RMM can do it ----------------------------------------

@pytest.mark.parametrize("write_backs", CAPABILITIES.values(), ids=CAPABILITIES.keys())
@pytest.mark.parametrize("action", ASKED, ids=lambda a: a.row)
def test_a_drop_is_queued_exactly_when_the_rmm_offers_its_write_back(env, action, write_backs):
    env.app.set_rmm(rmm_offering(write_backs))
    rec_id = a_ticket_for(env, action)
    processor = RequestProcessor(env.app)
    path = drop(env.requests_folder, "d-1.xml", request_xml("d-1", action.drop, TicketRecID=rec_id,
                                                            **INPUTS[action.row]))
    processor.process({path})
    processor.close()
    got = result(env.requests_folder, "d-1")
    if action.write_back in write_backs:
        assert got["status"] == "Queued" and [r.action for r in env.state.outbox_for_ticket(rec_id)] == [action.row]
    else:
        assert got["status"] == "Failed" and got["error_code"] == "Unsupported"
        assert f"Test RMM cannot {action.write_back.label}" in got["error_message"]
        assert env.state.outbox_for_ticket(rec_id) == []
        assert records.get_ticket(env.state, env.psa, rec_id).status_code != 1000  # nothing was changed


@pytest.mark.parametrize("write_backs", CAPABILITIES.values(), ids=CAPABILITIES.keys())
@pytest.mark.parametrize("action", ASKED, ids=lambda a: a.row)
def test_the_command_line_offers_an_action_exactly_when_the_rmm_can_do_it(env, action, write_backs, capsys):
    from agent.cli.actions_cmd import tickets

    env.app.set_rmm(rmm_offering(write_backs))
    tickets.main(["actions", "--json"], obj=env.app, standalone_mode=False)
    listed = {row["action"]: row["offered"] for row in json.loads(capsys.readouterr().out)["actions"]}
    assert listed == {a.row: a.write_back in write_backs for a in ASKED}
    rec_id = a_ticket_for(env, action)
    command = [action.command, rec_id, *CLI_ARGS[action.row], "--user", "jsmith", "--json"]
    if action.write_back in write_backs:
        tickets.main(command, obj=env.app, standalone_mode=False)
        assert json.loads(capsys.readouterr().out)["state"] == "pending"
    else:
        with pytest.raises(RmmUnsupported, match=f"Test RMM cannot {action.write_back.label}"):
            tickets.main(command, obj=env.app, standalone_mode=False)
        assert env.state.outbox_for_ticket(rec_id) == []


@pytest.mark.parametrize("write_backs", CAPABILITIES.values(), ids=CAPABILITIES.keys())
@pytest.mark.parametrize("action", ASKED, ids=lambda a: a.row)
def test_the_web_console_offers_an_action_exactly_when_the_rmm_can_do_it(admin, action, write_backs):  # noqa: F811
    admin.app.set_rmm(rmm_offering(write_backs))
    LinksManager(admin.app).link_site("ACME-HQ", admin.ids["acme"], "admin")
    rec_id = admin.psa.add_ticket(admin.ids["acme"], "Disk low")
    if action.on_linked:
        admin.state.link_ticket("CT-9", rec_id, acked=True)
    url = f"/tickets/{rec_id}"
    page = html.unescape(admin.client.get(url).text)
    offered = action.write_back in write_backs
    assert (f'action="{url}/{action.form}"' in page) == offered
    assert (f"Test RMM cannot {action.write_back.label}" in page) == (not offered)
    answer = admin.post(f"{url}/{action.form}", FORMS[action.row], page=url)
    assert [r.action for r in admin.state.outbox_for_ticket(rec_id)] == ([action.row] if offered else [])
    if not offered:
        assert f"Test RMM cannot {action.write_back.label}" in html.unescape(answer.text)


# -- the docs ---------------------------------------------------------------------------------

def test_docs_actions_md_is_generated_and_lists_every_action():
    text = ACTIONS_DOC.read_text(encoding="utf-8")
    assert text == render_actions_md(), (
        "docs/actions.md is out of date: run python -c \"from agent.docgen.actions import write; write()\"")
    for action in registry.ACTIONS:
        assert f"## {action.title('the RMM')}\n" in text and f"`{action.row}`" in text
        if action.drop:
            assert f"`{action.drop}`" in text and f"`tickets {action.command}`" in text


# -- the sender's texts name the configured RMM -----------------------------------------------

def test_the_senders_history_notes_name_the_configured_rmm(env):
    rmm = rmm_offering(frozenset({WriteBack.ADD_NOTE, WriteBack.CLOSE}))
    env.app.set_rmm(rmm)
    rmm.add_site("S1", "Site one")
    rmm.add_device("D1", "S1", "PC-1")
    alert = rmm.fail("D1", "Disk space")
    cleared, unlinked, refused = env.ticket(), env.ticket(), env.ticket()
    env.state.enqueue_outbox("k-clear", cleared, "clear", {"alert_id": alert.alert_id, "note": "done",
                                                          "check": "Disk space"})
    env.state.enqueue_outbox("k-close", unlinked, "close", {"resolution": None})
    env.state.enqueue_outbox("k-create", refused, "create", {"site_code": "S1", "title": "t", "assign_to": "NOC",
                                                             "psa_ticket_id": refused})
    OutboxSender(env.app, base_delay=0.05).run_once()

    def notes(rec_id: str) -> list[str]:
        return [h.text for h in records.get_ticket(env.state, env.psa, rec_id).history]

    assert notes(cleared) == ["Sent to Test RMM: check Disk space cleared, note: done"]
    assert rmm.cleared(alert.alert_id) == "done"
    assert notes(unlinked)[0].startswith("Not sent to Test RMM (close the ticket): ticket")
    assert "no linked Test RMM ticket" in notes(unlinked)[0]
    assert notes(refused)[0].startswith("Not sent to Test RMM (create the ticket): Test RMM cannot send a ticket")
    assert all("Continuum" not in text for rec_id in (cleared, unlinked, refused) for text in notes(rec_id))


# -- one unit of work per request, opened by its caller ---------------------------------------

def test_a_close_ticket_drop_is_one_unit_of_work_with_one_savepoint(env, monkeypatch):
    opened: list[str] = []
    for kind in ("unit_of_work", "savepoint"):
        real = getattr(records, kind)

        @contextlib.contextmanager
        def counted(*args, _real=real, _kind=kind, **kwargs):
            opened.append(_kind)
            with _real(*args, **kwargs):
                yield

        monkeypatch.setattr(records, kind, counted)
    rec_id, _tid = env.linked_ticket()
    processor = RequestProcessor(env.app)
    processor.process({drop(env.requests_folder, "c-1.xml", request_xml("c-1", "CompleteTicket", TicketRecID=rec_id,
                                                                        Note="fixed"))})
    processor.close()
    assert result(env.requests_folder, "c-1")["status"] == "Queued"
    assert opened == ["unit_of_work", "savepoint"]  # was four nested units of work and two savepoints


def test_an_unlinked_ticket_is_refused_in_the_words_of_the_configured_rmm(env):
    from agent.errors import NotLinked

    rec_id = env.ticket()
    with pytest.raises(NotLinked, match="create-in-continuum"):
        registry.ADD_NOTE.run(env.app, {"TicketRecID": rec_id, "Note": "n"}, "jsmith")
    env.app.set_rmm(rmm_offering(frozenset({WriteBack.ADD_NOTE, WriteBack.CLOSE})))
    with pytest.raises(NotLinked) as info:
        registry.ADD_NOTE.run(env.app, {"TicketRecID": rec_id, "Note": "n"}, "jsmith")
    # A snapshot RMM (as the in-memory one is) takes back only the tickets opened for its checks.
    assert "is not linked to a failing check of Test RMM" in str(info.value)
    assert "create-in-continuum" not in str(info.value) and "Work this one in the PSA alone" in str(info.value)


def test_a_command_the_configured_rmm_cannot_do_is_refused_before_the_ticket_is_looked_up(tmp_path):
    from conftest import run_cli, write_ini

    ini = write_ini(tmp_path, "Backend=memory\n[RangerMSP]\nDbsysFolder=Dbsys\n")
    refused = run_cli(["tickets", "create-in-continuum", "1", "--assign", "NOC"], config=ini, user="admin")
    assert refused.code == 1
    assert "the in-memory RMM cannot send a ticket to the RMM's NOC" in refused.err and "no ticket" not in refused.err
    listed = run_cli(["tickets", "actions", "--json"], config=ini)
    assert listed.code == 0, listed.err
    assert {r["action"]: r["offered"] for r in json.loads(listed.out)["actions"]} == {
        "create": False, "assign": False, "note": True, "close": True}
