"""The PSA port's contract: every behaviour the engines rely on of a :class:`PsaStore`.

Written once, run against every PSA backend. A backend joins by subclassing
:class:`PsaContract` in a ``test_*.py`` module beside this one and providing a ``psa``
fixture that yields a fresh, empty backend::

    import pytest
    from psa_contract import PsaContract

    class TestMyPsa(PsaContract):
        @pytest.fixture
        def psa(self, tmp_path):
            backend = MyPsa(tmp_path)
            yield backend
            backend.close()

Only the port's names are used here, never a backend's.
"""

from __future__ import annotations

import pytest

from agent.ports.psa import STATUS_COMPLETED, STATUS_NEW, PsaNotFound, PsaRejected, PsaStore
from agent.ports.recid import is_rec_id


class Boom(Exception):
    pass


class PsaContract:
    def test_is_a_psa_store(self, psa):
        assert isinstance(psa, PsaStore)
        assert isinstance(psa.joins_state_transaction, bool)

    # -- accounts --------------------------------------------------------------------------
    def test_accounts_get_rangermsp_rec_ids_and_keep_creation_order(self, psa):
        first = psa.add_account("Acme", notes="n")
        second = psa.add_account("Globex", auto_created=True)
        assert is_rec_id(first, "account") and is_rec_id(second, "account") and first != second
        assert [a.name for a in psa.list_accounts()] == ["Acme", "Globex"]
        assert psa.account_names() == [(first, "Acme"), (second, "Globex")]
        assert psa.first_account().rec_id == first
        assert psa.get_account(second).auto_created is True
        assert psa.get_account(first).notes == "n"

    def test_an_account_needs_a_name(self, psa):
        with pytest.raises(PsaRejected):
            psa.add_account("  ")
        assert psa.list_accounts() == []

    def test_names_are_kept_without_surrounding_blanks_and_a_blank_one_is_refused(self, psa):
        # The rules of agent.ports.psa_checks, which every backend applies the same way.
        account = psa.add_account("  Acme Inc \t")
        assert psa.get_account(account).name == "Acme Inc"
        psa.rename_account(account, " Acme Ltd ")
        assert psa.get_account(account).name == "Acme Ltd"
        asset = psa.add_asset(" ACME-DC01 ", account)
        assert psa.get_asset(asset).name == "ACME-DC01"
        for blank in ("", " \t "):
            with pytest.raises(PsaRejected, match="an asset needs a name"):
                psa.add_asset(blank, account)
            with pytest.raises(PsaRejected, match="a ticket needs a description"):
                psa.add_ticket(account, blank)
            with pytest.raises(PsaRejected, match="an account needs a name"):
                psa.rename_account(account, blank)
        assert [a.rec_id for a in psa.list_assets(account)] == [asset] and psa.list_tickets() == []

    def test_unknown_rec_ids_are_not_found(self, psa):
        with pytest.raises(PsaNotFound):
            psa.get_account("CRD00000000000000000")
        with pytest.raises(PsaNotFound):
            psa.get_asset("AST00000000000000000")
        with pytest.raises(PsaNotFound):
            psa.get_ticket("TKT00000000000000000")
        with pytest.raises(PsaNotFound):
            psa.account_manager("CRD00000000000000000")

    def test_find_account_by_rec_id_or_exact_name_oldest_first(self, psa):
        old = psa.add_account("Riverside Foods")
        psa.add_account("riverside foods")
        assert psa.find_account(old).rec_id == old
        assert psa.find_account("RIVERSIDE FOODS ").rec_id == old
        assert psa.find_account("Riverside") is None

    def test_manager_and_rename_make_an_auto_created_account_real(self, psa):
        rec = psa.add_account("[Continuum AUTO CREATED] X", "jsmith", auto_created=True)
        assert psa.account_manager(rec) == "jsmith"
        psa.rename_account(rec, "X Ltd")
        account = psa.get_account(rec)
        assert (account.name, account.auto_created) == ("X Ltd", False)
        with pytest.raises(PsaRejected):
            psa.rename_account(rec, "")

    def test_set_and_clear_the_manager_of_an_account(self, psa):
        rec = psa.add_account("Acme")
        psa.set_account_manager(rec, "jsmith")
        assert psa.account_manager(rec) == "jsmith" and psa.get_account(rec).manager == "jsmith"
        psa.set_account_manager(rec, None)
        assert psa.account_manager(rec) is None
        with pytest.raises(PsaNotFound):
            psa.set_account_manager("CRD00000000000000000", "jsmith")

    def test_an_account_with_records_is_never_deleted_an_empty_one_is_or_the_backend_says_it_cannot(self, psa):
        empty, with_ticket, with_asset = (psa.add_account(n) for n in ("empty", "ticket", "asset"))
        psa.add_ticket(with_ticket, "disk full")
        psa.add_asset("PC", with_asset)
        for busy in (with_ticket, with_asset):
            with pytest.raises(PsaRejected):
                psa.delete_account(busy)
        try:
            psa.delete_account(empty)
        except PsaRejected as exc:  # a PSA whose API cannot delete says so and keeps the account
            assert "cannot delete" in exc.message
            assert [a.name for a in psa.list_accounts()] == ["empty", "ticket", "asset"]
        else:
            with pytest.raises(PsaNotFound):
                psa.get_account(empty)
            assert [a.name for a in psa.list_accounts()] == ["ticket", "asset"]
        with pytest.raises(PsaNotFound):
            psa.delete_account("CRD00000000000000000")

    def test_merge_moves_tickets_and_assets_and_retires_the_source(self, psa):
        auto, real = psa.add_account("auto", auto_created=True), psa.add_account("real")
        asset = psa.add_asset("PC", auto)
        ticket = psa.add_ticket(auto, "disk full", asset_rec_id=asset)
        assert psa.merge_account(auto, real) == {"tickets": 1, "assets": 1}
        assert psa.get_ticket(ticket).account_rec_id == real and psa.get_asset(asset).account_rec_id == real
        with pytest.raises(PsaNotFound):
            psa.get_account(auto)
        assert [a.rec_id for a in psa.list_accounts()] == [real]
        with pytest.raises(PsaRejected):
            psa.merge_account(real, real)

    def test_a_merged_away_account_names_the_account_that_took_it_over_through_every_merge(self, psa):
        first, second, third = (psa.add_account(n) for n in ("first", "second", "third"))
        assert psa.successor_account(first) is None  # in use: not merged
        psa.merge_account(first, second)
        assert psa.successor_account(first) == second
        psa.merge_account(second, third)
        assert psa.successor_account(first) == psa.successor_account(second) == third
        assert psa.successor_account(third) is None

    # -- assets ----------------------------------------------------------------------------
    def test_assets_belong_to_an_account(self, psa):
        acme, other = psa.add_account("Acme"), psa.add_account("Other")
        b = psa.add_asset("B-PC", acme, serial="SN1", manufacturer="Dell", notes="cpu")
        psa.add_asset("A-PC", acme)
        psa.add_asset("C-PC", other)
        asset = psa.get_asset(b)
        assert (asset.account_rec_id, asset.serial, asset.manufacturer, asset.notes) == (acme, "SN1", "Dell", "cpu")
        assert [a.name for a in psa.list_assets(acme)] == ["A-PC", "B-PC"]
        assert len(psa.list_assets()) == 3
        with pytest.raises(PsaNotFound):
            psa.add_asset("X", "CRD00000000000000000")
        with pytest.raises(PsaRejected):
            psa.add_asset("", acme)

    # -- tickets and history ---------------------------------------------------------------
    def test_tickets_are_numbered_and_filtered(self, psa):
        acme, other = psa.add_account("Acme"), psa.add_account("Other")
        t1 = psa.add_ticket(acme, "one", in_inbox=True, manager="jsmith")
        t2 = psa.add_ticket(other, "two")
        one = psa.get_ticket(t1)
        assert is_rec_id(t1, "ticket")
        assert (one.status_code, one.status, one.in_inbox, one.manager) == (STATUS_NEW, "New", True, "jsmith")
        assert [t.ticket_no for t in psa.list_tickets()] == [one.ticket_no, one.ticket_no + 1]
        assert [t.rec_id for t in psa.list_tickets(inbox=True)] == [t1]
        assert [t.rec_id for t in psa.list_tickets(inbox=False)] == [t2]
        assert [t.rec_id for t in psa.list_tickets(account_rec_id=other)] == [t2]
        assert psa.count_tickets() == 2
        assert one.continuum_ticket_id is None  # the link is the state store's, not the backend's
        with pytest.raises(PsaRejected):
            psa.add_ticket(acme, " ")
        with pytest.raises(PsaNotFound):
            psa.add_ticket("CRD00000000000000000", "x")

    def test_a_ticket_is_found_by_its_number(self, psa):
        acme = psa.add_account("Acme")
        first, second = psa.add_ticket(acme, "one"), psa.add_ticket(acme, "two")
        number = psa.get_ticket(second).ticket_no
        found = psa.ticket_by_number(number)
        assert (found.rec_id, found.description, found.history) == (second, "two", [])
        assert psa.ticket_by_number(psa.get_ticket(first).ticket_no).rec_id == first
        with pytest.raises(PsaNotFound):
            psa.ticket_by_number(number + 100)

    def test_history_notes_in_the_order_written(self, psa):
        ticket = psa.add_ticket(psa.add_account("Acme"), "x")
        psa.add_history(ticket, "created", at="2026-01-01T00:00:00.000000Z", touch=False)
        psa.add_history(ticket, "second")
        notes = psa.get_ticket(ticket).history
        assert [n.text for n in notes] == ["created", "second"]
        assert notes[0].at == "2026-01-01T00:00:00.000000Z" and is_rec_id(notes[0].rec_id, "history")
        assert psa.get_ticket(ticket, history=False).history == []

    def test_status_inbox_and_completed_since(self, psa):
        acme = psa.add_account("Acme")
        done, open_ = psa.add_ticket(acme, "done"), psa.add_ticket(acme, "open")
        assert psa.set_ticket_status(done, STATUS_COMPLETED) == STATUS_NEW
        psa.set_inbox(open_, True)
        assert psa.get_ticket(open_).in_inbox is True
        assert psa.completed_since(None) == [done]
        assert psa.completed_since("9999-01-01T00:00:00.000000Z") == []

    def test_a_completed_ticket_is_not_in_the_inbox(self, psa):
        acme = psa.add_account("Acme")
        waiting, done = psa.add_ticket(acme, "waiting", in_inbox=True), psa.add_ticket(acme, "done", in_inbox=True)
        psa.set_ticket_status(done, STATUS_COMPLETED)
        assert [t.rec_id for t in psa.list_tickets(inbox=True)] == [waiting]
        assert [t.rec_id for t in psa.list_tickets(inbox=False)] == [done]
        assert psa.get_ticket(done).in_inbox is False
        assert psa.ticket_by_number(psa.get_ticket(done).ticket_no).in_inbox is False
        psa.set_ticket_status(done, STATUS_NEW)  # reopened: it waits in the Inbox again
        assert [t.rec_id for t in psa.list_tickets(inbox=True)] == [waiting, done]

    # -- units of work ---------------------------------------------------------------------
    def test_a_unit_of_work_that_raises_undoes_its_writes_or_the_backend_says_it_cannot(self, psa):
        kept = psa.add_account("kept")
        with pytest.raises(Boom), psa.transaction():
            psa.add_account("gone")
            psa.rename_account(kept, "renamed")
            raise Boom
        if psa.joins_state_transaction:
            assert [(a.rec_id, a.name) for a in psa.list_accounts()] == [(kept, "kept")]
        else:  # each write commits at once; exactly once comes from keyed writes (below)
            assert [a.name for a in psa.list_accounts()] == ["renamed", "gone"]

    def test_a_savepoint_undoes_only_its_own_writes_or_the_backend_says_it_cannot(self, psa):
        with psa.transaction():
            outer = psa.add_account("outer")
            with pytest.raises(Boom), psa.savepoint():
                inner = psa.add_account("inner")
                raise Boom
            after = psa.add_account("after")
        expected = [outer, after] if psa.joins_state_transaction else [outer, inner, after]
        assert [a.rec_id for a in psa.list_accounts()] == expected

    def test_a_batch_of_new_tickets_reads_as_if_written_one_by_one(self, psa):
        """What the inbound sync relies on: inside ``batch()`` every read (and every other write)
        finds the tickets and first notes written before it, numbered in order."""
        account = psa.add_account("Acme")
        with psa.transaction(), psa.batch():
            made = []
            for n in range(3):
                ticket = psa.add_ticket(account, f"alert {n}", in_inbox=True)
                psa.add_history(ticket, f"Created {n}", at="2024-01-01T00:00:00.000000Z", touch=False)
                made.append(ticket)
                assert psa.count_tickets() == n + 1
            psa.add_history(made[0], "a second note")
            psa.set_inbox(made[1], False)
            assert [h.text for h in psa.get_ticket(made[0]).history] == ["Created 0", "a second note"]
        assert [t.ticket_no for t in psa.list_tickets()] == [1, 2, 3]
        assert [t.rec_id for t in psa.list_tickets(inbox=True)] == [made[0], made[2]]
        assert [h.text for h in psa.get_ticket(made[2]).history] == ["Created 2"]

    def test_a_batch_that_raises_leaves_nothing_or_the_backend_says_it_cannot(self, psa):
        account = psa.add_account("Acme")
        with pytest.raises(Boom), psa.transaction(), psa.batch():
            ticket = psa.add_ticket(account, "alert")
            psa.add_history(ticket, "Created", touch=False)
            raise Boom
        assert psa.count_tickets() == (0 if psa.joins_state_transaction else 1)

    def test_a_keyed_unit_written_again_after_a_failure_makes_nothing_twice(self, psa):
        """What the engines rely on: a unit of work that failed half-way is written again whole,
        under the same name, and the PSA ends with one of each record (D1 or D9)."""
        account = psa.add_account("Acme")

        def unit(fail: bool) -> tuple[str, str]:
            with psa.transaction(), psa.keyed("change:42"):
                with psa.keyed("ticket:T-1", external_id="T-1"):
                    ticket = psa.add_ticket(account, "disk full", in_inbox=True)
                note = psa.add_history(ticket, "Created in Continuum")
                if fail:
                    raise Boom
                return ticket, note

        with pytest.raises(Boom):
            unit(fail=True)
        ticket, note = unit(fail=False)
        assert [t.rec_id for t in psa.list_tickets()] == [ticket]
        assert [(n.rec_id, n.text) for n in psa.get_ticket(ticket).history] == [(note, "Created in Continuum")]
