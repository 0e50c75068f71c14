"""Commands that only look create nothing on a fresh install (no Dbsys folder, no store): they
say there is nothing yet."""

from __future__ import annotations

import pytest

from conftest import run_cli, write_ini

LOOKING = [
    ["status"], ["status", "--json"], ["check-config", "--offline"], ["errors", "list"], ["errors"], ["requests"],
    ["audit"], ["plugins"], ["inventory", "sites"], ["links", "sites"], ["links", "devices", "--unlinked"],
    ["links", "search", "accounts", "acme"], ["accounts", "list"], ["accounts", "show", "CRD1"],
    ["assets", "list"], ["employees", "list"], ["groups", "list"], ["tickets", "list", "--json"],
    ["tickets", "show", "TKT1"],
]
# Those that read the store say so; the rest never open it.
READ_THE_STORE = {"links", "accounts", "assets", "employees", "groups", "tickets"}


@pytest.mark.parametrize("args", LOOKING, ids=" ".join)
def test_a_command_that_only_looks_creates_nothing_on_a_fresh_install(tmp_path, args):
    ini = write_ini(tmp_path)
    res = run_cli(args, config=ini)
    assert res.code in (0, 1), res.err  # 1: a record or the inventory that is not there yet
    assert sorted(p.name for p in tmp_path.iterdir()) == ["CmtZenithLink.ini"], args
    if args[0] in READ_THE_STORE:
        assert "There is nothing yet: the store" in res.err and "created nothing" in res.err


def test_tickets_list_on_a_fresh_install_is_an_empty_json_list(tmp_path):
    res = run_cli(["tickets", "list", "--json"], config=write_ini(tmp_path))
    assert res.code == 0 and res.out.strip() == "[]"
