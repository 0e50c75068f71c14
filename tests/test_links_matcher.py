"""The built-in matcher plugin: normalisation, ranking on tricky names, serial numbers."""

from __future__ import annotations

import pytest

from agent.plugins import get_plugin_manager
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


def verdicts(site_name: str, names: list[str], client: str = "") -> list[tuple[str, str]]:
    accounts = [(f"CRD{i}", name) for i, name in enumerate(names)]
    return [(s.name, s.verdict) for s in suggest_accounts({"Name": site_name, "ClientName": client}, accounts, 5)]


def test_acme_variants_rank_exact_forms_above_a_different_company():
    names = ["ACME Holdings", "Acme, Inc", "Apex Dental", "ACME Inc."]
    result = ranked("ACME Inc.", names)
    assert [r[0] for r in result[:2]] == ["ACME Inc.", "Acme, Inc"]  # exactly the site's name first
    assert result[0][1:] == (100.0, "exactly the client's name")
    assert result[1][1:] == (100.0, "same name once normalised")
    holdings = next(r for r in result if r[0] == "ACME Holdings")
    assert holdings[1] < 100 and holdings[2] == "the telling words in common"  # Holdings says little
    assert verdicts("ACME Inc.", names)[0] == ("ACME Inc.", "exact")  # exactly its name, though two normalise so
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


# -- verdicts ------------------------------------------------------------------------------------
def test_a_shared_trade_word_is_not_enough_union_is_not_iron():
    assert verdicts("Union Engineering Ltd", ["Iron Engineering", "Apex Dental"])[0] == ("Iron Engineering", "weak")
    assert verdicts("Summit Logistics Ltd", ["Cedar Logistics LLC"])[0][1] == "weak"


def test_exactly_the_clients_name_wins_a_tie_and_neither_exactly_is_ambiguous():
    pool = ["RIVERSIDE FOODS", "Riverside Foods Corp."]
    assert verdicts("Riverside Foods Corp.", pool)[0] == ("Riverside Foods Corp.", "exact")
    assert verdicts("Riverside Foods", pool)[0] == ("RIVERSIDE FOODS", "exact")
    found = suggest_accounts({"Name": "Riverside Foods Inc"}, [("CRD1", pool[0]), ("CRD2", pool[1])], 5)
    assert [s.verdict for s in found] == ["ambiguous", "ambiguous"]


def test_a_slip_of_the_keyboard_is_forgiven_a_changed_letter_is_another_name():
    pool = ["Northwind Traders Ltd", "Carter Dental"]
    assert verdicts("Nortwind Traders", pool)[0] == ("Northwind Traders Ltd", "strong")  # a letter dropped
    assert verdicts("Northwnid Traders", pool)[0] == ("Northwind Traders Ltd", "strong")  # two swapped
    assert verdicts("Carver Dental", pool)[0] == ("Carter Dental", "weak")  # Carver is someone else


def test_numbers_and_a_second_brand_word_tell_businesses_apart():
    pool = ["Keller Store 12", "Keller Store 121", "Pemford Stanmere Law", "Pemford Law"]
    assert verdicts("Keller Store 12", pool)[0] == ("Keller Store 12", "exact")
    assert verdicts("Keller Store 21", pool)[0][1] in ("weak", "ambiguous")
    assert verdicts("Stanmere Law", pool)[0][1] == "weak"


def test_branch_words_and_a_location_do_not_hide_the_name():
    pool = ["Contoso Legal LLC", "Fabrikam"]
    assert verdicts("Contoso Legal - Head Office", pool)[0] == ("Contoso Legal LLC", "exact")
    assert verdicts("Contoso Legal (Branch 2)", pool)[0] == ("Contoso Legal LLC", "exact")
    assert verdicts("Boston Office", pool, client="Contoso Legal")[0] == ("Contoso Legal LLC", "exact")


def test_the_clients_name_decides_before_the_sites_name():
    pool = ["Harbour View", "Harbour View Accountants Ltd"]
    # The site's name alone would name the first; Continuum's client record names the second.
    assert verdicts("Harbour View - Dublin", pool, client="Harbour View Accountants Ltd")[0] == (
        "Harbour View Accountants Ltd", "exact")


def test_a_brand_in_two_trades_is_not_a_strong_match_for_a_third():
    pool = ["Northwind Traders", "Northwind Logistics"]
    assert verdicts("Northwind Foods", pool)[0][1] in ("weak", "ambiguous")
    assert verdicts("Northwind Traders - Leeds", pool)[0] == ("Northwind Traders", "exact")


def test_the_account_index_lives_on_the_pool_it_indexes():
    from agent.hookspecs import AccountPool

    pool = AccountPool([("CRD1", "Acme Inc"), ("CRD2", "Globex Corporation")])
    first = suggest_accounts({"SiteCode": "S1", "Name": "ACME"}, pool, 1)
    index = pool.derived["matcher"][1]
    again = suggest_accounts({"SiteCode": "S2", "Name": "Globex"}, pool, 1)
    assert pool.derived["matcher"][1] is index  # built once for the pool
    assert [s.rec_id for s in first + again] == ["CRD1", "CRD2"]
    pool.append(("CRD3", "Initech"))  # a pool that changed is indexed again
    assert suggest_accounts({"SiteCode": "S3", "Name": "Initech"}, pool, 1)[0].rec_id == "CRD3"
    assert pool.derived["matcher"][1] is not index
    other = AccountPool(pool)
    suggest_accounts({"SiteCode": "S1", "Name": "ACME"}, other, 1)
    assert other.derived["matcher"][1] is not pool.derived["matcher"][1]  # no index shared between pools
    assert suggest_accounts({"SiteCode": "S1", "Name": "ACME"}, list(pool), 1)[0].rec_id == "CRD1"  # a plain list
