"""The built-in matcher plugin: normalisation, ranking on tricky names, serial numbers."""

from __future__ import annotations

import pytest

from agent.plugins import get_plugin_manager
from plugins import matcher
from plugins.matcher import is_junk_serial, normalise_name, suggest_accounts, suggest_assets


@pytest.mark.parametrize("raw, expected", [
    ("ACME Inc.", "acme"),
    ("Acme, Inc", "acme"),
    ("ACME Holdings", "acme holdings"),
    ("Smith & Sons", "smith and sons"),
    ("Smith and Sons Ltd", "smith and sons"),
    ("The Müller Technik GmbH", "muller technik"),
    ("Acme & Co.", "acme"),
    ("O'Brien & Partners LLP", "obrien and partners"),
    ("Société Générale S.A.", "societe generale"),
    ("The Limited", "limited"),  # a name is never normalised away
    ("Inc", "inc"),
])
def test_normalise_name(raw, expected):
    assert normalise_name(raw) == expected


def ranked(site_name: str, names: list[str], limit: int = 5, client: str = "") -> list[tuple[str, float, str]]:
    accounts = [(f"CRD{i}", name) for i, name in enumerate(names)]
    return [(s.name, s.score, s.reason)
            for s in suggest_accounts({"Name": site_name, "ClientName": client}, accounts, limit)]


def test_acme_variants_rank_exact_forms_above_a_different_company():
    names = ["ACME Holdings", "Acme, Inc", "Apex Dental", "ACME Inc."]
    result = ranked("ACME Inc.", names)
    assert [r[0] for r in result[:2]] == ["Acme, Inc", "ACME Inc."]
    assert result[0][1:] == (100.0, "same name once normalised")
    holdings = next(r for r in result if r[0] == "ACME Holdings")
    assert holdings[1] < 100 and holdings[2] == "all words in common"
    assert "Apex Dental" not in [r[0] for r in result[:3]]


def test_holdings_site_prefers_holdings():
    assert ranked("ACME Holdings", ["Acme, Inc", "ACME Holdings"])[0][:2] == ("ACME Holdings", 100.0)


def test_ampersand_and_legal_form():
    result = ranked("Smith & Sons", ["Smithers Bakery", "Smith and Sons Ltd", "Sons of Anarchy"])
    assert result[0] == ("Smith and Sons Ltd", 100.0, "same name once normalised")
    assert all(score < 100 for _, score, _ in result[1:])


def test_typo_and_split_words_are_still_suggested():
    assert ranked("Nortwind Traders", ["Contoso", "Northwind Traders"])[0][0] == "Northwind Traders"
    assert ranked("North Wind Traders", ["Contoso", "Northwind Traders"])[0][0] == "Northwind Traders"
    assert ranked("Northwind", ["Fabrikam", "Northwind Traders"])[0][0] == "Northwind Traders"


def test_client_name_counts_too():
    result = ranked("Head office", ["Contoso Legal LLC", "Fabrikam"], client="Contoso Legal")
    assert result[0][:2] == ("Contoso Legal LLC", 100.0)


def test_unrelated_names_give_nothing_and_limit_is_kept():
    assert ranked("Zebra Crossing", ["Acme", "Smith and Sons"]) == []
    many = [f"Acme {i}" for i in range(20)]
    assert len(ranked("Acme", many, limit=3)) == 3


def test_scores_are_ordered_and_bounded():
    names = ["Blue River Dental LLC", "Blue River", "River Dental", "Blue Sky Dental", "Red River Dental"]
    scores = [s for _, s, _ in ranked("Blue River Dental", names)]
    assert scores == sorted(scores, reverse=True)
    assert scores[0] == 100 and all(0 <= s <= 100 for s in scores)


def test_many_common_words_still_find_the_exact_one():
    # Hundreds of accounts share each word; the exact one must survive the candidate cut.
    names = [f"{a} {b}" for a in ("Apex", "Beacon", "Cedar", "Delta", "Falcon") for b in range(80)]
    names += [f"Dental {b}" for b in range(400)] + ["Apex Dental"]
    assert ranked("Apex Dental", names, limit=1)[0][:2] == ("Apex Dental", 100.0)


def test_the_account_index_is_reused_for_the_same_list_and_rebuilt_for_another():
    accounts = [("CRD1", "Acme")]
    suggest_accounts({"Name": "Acme"}, accounts, 5)
    first = matcher._account_cache["index"]
    suggest_accounts({"Name": "Smith"}, accounts, 5)
    assert matcher._account_cache["index"] is first
    other = [("CRD2", "Smith")]
    assert suggest_accounts({"Name": "Smith"}, other, 5)[0].rec_id == "CRD2"
    assert matcher._account_cache["index"] is not first


@pytest.mark.parametrize("serial", ["To be filled by O.E.M.", "Default string", "System Serial Number", "0",
                                    "None", "N/A", "", "   ", "00000000", "FFFF-FFFF", "xx", None,
                                    "to be filled by oem"])
def test_junk_serials(serial):
    assert is_junk_serial(serial)


@pytest.mark.parametrize("serial", ["7XK2Q13", "PF3ABC12", "C02XL0GJJG5J", "123"])
def test_real_serials(serial):
    assert not is_junk_serial(serial)


def test_junk_serials_never_match():
    assets = [{"rec_id": "AST1", "name": "Reception", "serial": "To be filled by O.E.M."},
              {"rec_id": "AST2", "name": "Front desk", "serial": "Default string"}]
    device = {"Name": "WS-77", "SerialNumber": "To be filled by O.E.M."}
    assert suggest_assets(device, assets, 5) == []


def test_same_serial_first_then_names():
    assets = [{"rec_id": "AST1", "name": "ACME-DC01", "serial": ""},
              {"rec_id": "AST2", "name": "Closet server", "serial": "7xk2 q13"},
              {"rec_id": "AST3", "name": "ACME-DC02", "serial": "OTHER999"}]
    found = suggest_assets({"Name": "ACME-DC01.acme.local", "SerialNumber": "7XK2Q13"}, assets, 5)
    assert [s.rec_id for s in found][:2] == ["AST2", "AST1"]
    assert found[0].score == 100 and found[0].reason == "same serial number"
    assert found[1].score < 100 and found[1].reason == "same name"


def test_plugin_is_registered_and_answers_through_the_hook():
    pm = get_plugin_manager(None)
    assert pm.infos["matcher"].enabled
    assert set(pm.infos["matcher"].hooks) == {"zenith_suggest_accounts", "zenith_suggest_assets"}
    found = pm.hook.zenith_suggest_accounts(site={"Name": "ACME"}, accounts=[("CRD1", "Acme Inc")],
                                            limit=5, settings=None)
    assert found[0].rec_id == "CRD1"
