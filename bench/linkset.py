"""A labelled evaluation set for linking sites to accounts, written to be hard.

Each case is a Continuum site (``Name``, ``ClientName``) and the accounts a careful person would
accept as its account (none: no account is the site's, or only a person can tell which). The
accounts hold every trap the cases need: look-alikes that share the common word (*Union* /
*Iron Engineering*), the same brand in another trade (*Northwind Traders* / *Northwind
Logistics*), numbered siblings (*Store 12* / *Store 21*), near-spellings of another company
(*Carter* / *Carver Dental*), duplicate accounts of one client (*RIVERSIDE FOODS* / *Riverside
Foods Corp.*), and many accounts that share words.

The site-side variations: the exact name, case and punctuation, legal forms, ``&`` / "and", a
leading "The", a typo in the brand, words written apart or together, branch words and locations
in the site name, an extra or a missing trade word, the client name empty or not.

Deterministic for a seed; ``size`` is the number of client companies (about 2.5 cases each).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

# Brands are made of two syllables, so that there are enough of them for each client to have its
# own (a brand shared by two clients would make the labels disagree with each other).
FIRSTS = ("Ash Black Bright Cold Copper Crest Dun East Elm Fair Fox Glen Gold Grey Hart Holl Kings "
          "Lang Lock Marl Moor Nor Oak Pem Rad Raven Red Rock Rose Sand Silver South Stan Stone Thorn "
          "Under Vale Wake West Whit Wood Yard").split()
SECONDS = "ford wick more ton ley field brook worth gate haven crest dale mere bury stead".split()
TRADES = ["Engineering", "Logistics", "Dental", "Accounting", "Law", "Realty", "Medical", "Foods",
          "Construction", "Consulting", "Insurance", "Motors", "Printing", "Design", "Clinic",
          "Manufacturing", "Pharmacy", "Studios", "Plumbing", "Roofing", "Veterinary", "Electrical"]
LEGAL = ["Inc.", "LLC", "Ltd", "Ltd.", "Limited", "Corp.", "Corporation", "GmbH", "& Co.", "LLP", "Co."]
CITIES = ["Boston", "Denver", "Leeds", "Munich", "Austin", "Dublin", "Perth", "Bristol", "Kingston"]
BRANCHES = ["HQ", "Head Office", "Main Office", "Branch 2", "Branch 3", "Site 4"]


@dataclass
class Case:
    site: dict[str, str]
    acceptable: set[str]  # REC IDs a careful person would link it to (empty: none)
    kind: str


@dataclass
class LinkSet:
    accounts: list[tuple[str, str]] = field(default_factory=list)
    cases: list[Case] = field(default_factory=list)

    def account(self, name: str) -> str:
        rec_id = f"CRD{len(self.accounts):017d}"
        self.accounts.append((rec_id, name))
        return rec_id

    def case(self, kind: str, name: str, client: str, *acceptable: str) -> None:
        code = f"S{len(self.cases):05d}"
        self.cases.append(Case({"SiteCode": code, "Name": name, "ClientName": client}, set(acceptable), kind))


def _typo(word: str, rnd: random.Random, taken: set[str]) -> str:
    """One slip of the keyboard: a letter dropped, doubled or swapped with its neighbour."""
    for _ in range(50):
        i = rnd.randrange(1, len(word) - 2)
        how = rnd.choice(("drop", "double", "swap"))
        if how == "drop":
            slip = word[:i] + word[i + 1:]
        elif how == "double":
            slip = word[:i] + word[i] + word[i:]
        else:
            slip = word[:i] + word[i + 1] + word[i] + word[i + 2:]
        if slip != word and slip not in taken:
            return slip
    return word


def _near_spelling(word: str, rnd: random.Random, taken: set[str]) -> str:
    """Another company's name one letter away (Carter / Carver): a consonant changed mid-word."""
    consonants = "bcdfghklmnprstvw"
    for _ in range(50):
        i = rnd.randrange(1, len(word) - 1)
        if word[i].lower() in consonants:
            near = word[:i] + rnd.choice([c for c in consonants if c != word[i].lower()]) + word[i + 1:]
            if near not in taken:
                return near
    return word + "s"


def build(size: int = 240, seed: int = 7) -> LinkSet:
    rnd = random.Random(seed)
    s = LinkSet()
    every = [a + b for a in FIRSTS for b in SECONDS]
    rnd.shuffle(every)
    if size > len(every) // 2:
        raise ValueError(f"at most {len(every) // 2} clients")
    brands, unused = every[:size], every[size:]  # unused: brands of clients without an account
    taken = set(every)
    _curated(s)
    for n in range(size):
        brand = brands[n % len(brands)]
        trade = TRADES[(n * 7 + n // len(brands)) % len(TRADES)]
        legal = rnd.choice(LEGAL)
        shape = n % 12
        if shape == 0:  # a duplicate account of one client, written two ways
            upper = s.account(f"{brand} {trade}".upper())
            formal = s.account(f"{brand} {trade} {legal}")
            s.case("duplicate, exactly one of them", f"{brand} {trade} - {rnd.choice(CITIES)}",
                   f"{brand} {trade} {legal}", formal, upper)
            s.case("duplicate, neither exactly", f"{brand} {trade}", f"The {brand} {trade}", upper, formal)
            continue
        if shape == 1:  # the brand written apart / together
            first = next(f for f in FIRSTS if brand.startswith(f))
            apart, together = f"{first} {brand[len(first):].capitalize()}", brand
            rec = s.account(f"{together} {trade} {legal}")
            s.case("written apart", f"{apart} {trade}", "", rec)
            s.case("written together", f"{together} {trade} ({rnd.choice(BRANCHES)})", "", rec)
            continue
        rec = s.account(f"{brand} {trade} {legal}" if rnd.random() < 0.7 else f"{brand} {trade}")
        if shape == 2:  # a look-alike that shares the trade word
            s.account(f"{unused[n % len(unused)]} {trade}")
            s.case("look-alike in the pool", f"{brand} {trade}", f"{brand} {trade}", rec)
            s.case("only a look-alike", f"{unused[(n + 1) % len(unused)]} {trade}", "")
        elif shape == 3:  # the same brand in another trade
            other_trade = TRADES[(TRADES.index(trade) + 5) % len(TRADES)]
            s.account(f"{brand} {other_trade}")
            s.case("brand in two trades", f"{brand} {trade} - {rnd.choice(CITIES)}", "", rec)
            third = TRADES[(TRADES.index(trade) + 9) % len(TRADES)]
            s.case("brand in a third trade", f"{brand} {third}", f"{brand} {third}")
        elif shape == 4:  # numbered siblings
            number = rnd.randint(10, 89)
            flipped = int(str(number)[::-1]) if str(number)[::-1] != str(number) else number + 1
            store = s.account(f"{brand} Store {number}")
            s.account(f"{brand} Store {flipped + 100}")
            s.case("numbered sibling", f"{brand} Store {number}", "", store)
            s.case("number nobody has", f"{brand} Store {number + 200}", "")
        elif shape == 5:  # a typo in the brand on the site side
            s.case("typo in the brand", f"{_typo(brand, rnd, taken)} {trade}", "", rec)
            sons = s.account(f"{brand} & Sons {trade}")
            s.case("ampersand and legal form", f"{brand} and Sons - {rnd.choice(CITIES)}",
                   f"{brand} and Sons {trade} {legal}", sons)
        elif shape == 6:  # another company one letter away
            near = _near_spelling(brand, rnd, taken)
            s.case("one letter from another company", f"{near} {trade}", f"{near} {trade}")
            s.case("case, punctuation, legal form", f"{brand.upper()} {trade.upper()}, {legal.upper()}", "", rec)
        elif shape == 7:  # branch words and locations only in the site name
            s.case("branch words", f"{brand} {trade} {rnd.choice(BRANCHES)}", "", rec)
            s.case("location as the site name", f"{rnd.choice(CITIES)} Office", f"{brand} {trade}", rec)
        elif shape == 8:  # an extra trade word on the site side
            s.case("an extra word", f"{brand} {trade} Services", "", rec)
        elif shape == 9:  # the trade word missing on the site side
            s.case("trade word missing", f"{brand}", f"{brand}", rec)
        elif shape == 10:  # accounts that share the brand's first word
            partner = unused[(n * 3) % len(unused)]
            joint = s.account(f"{brand} {partner} {trade}")
            s.case("two brands, exact", f"{brand} {partner} {trade}", "", joint)
            s.case("two brands, one of them", f"{partner} {trade}", "")
        else:  # shape 11: a client without any account
            s.case("no account", f"{unused[(n * 5) % len(unused)]} {rnd.choice(TRADES)} {rnd.choice(LEGAL)}", "")
    for _ in range(size // 3):  # accounts no site is for: noise that shares words with everything
        s.account(f"{rnd.choice(brands)} {rnd.choice(TRADES)} {rnd.choice(['Holdings', 'Group', 'Partners'])}")
    return s


def _curated(s: LinkSet) -> None:
    """Real-looking names of the kind that fool a bare similarity score (Union / Iron Engineering
    scores 90.9, Summit / Cedar Logistics 85.5)."""
    iron, cedar = s.account("Iron Engineering"), s.account("Cedar Logistics LLC")
    upper, formal = s.account("RIVERSIDE FOODS"), s.account("Riverside Foods Corp.")
    delta, beta = s.account("Delta Plumbing"), s.account("Beta Plumbing")
    forest, crest = s.account("Forest Pharmacy"), s.account("Crest Pharmacy")
    alpine, pine = s.account("Alpine Roofing"), s.account("Pine Valley Dental")
    bolt, hansen = s.account("Bolt Electrical"), s.account("Hansen Motors")
    smith = s.account("Smith and Sons Ltd")
    blue, s_blue_plumbing, red = (s.account("Blue River Dental LLC"), s.account("Blue River Plumbing"),
                                  s.account("Red River Dental"))
    for name, client, acceptable in (
            ("Union Engineering Ltd", "", ()), ("Iron Engineering - Leeds", "", (iron,)),
            ("Summit Logistics Ltd", "", ()), ("Cedar Logistics", "Cedar Logistics, LLC", (cedar,)),
            ("Riverside Foods Corp.", "", (formal,)), ("Riverside HQ", "RIVERSIDE FOODS", (upper,)),
            ("Riverside Foods", "", (upper, formal)), ("Riverside Foods Inc", "", (upper, formal)),
            ("Beta Plumbing Inc", "", (beta,)), ("Zeta Plumbing", "", ()), ("Delta Plumbing Co.", "", (delta,)),
            ("Forest Pharmacy", "", (forest,)), ("Crest Pharmacy", "", (crest,)), ("Coast Pharmacy", "", ()),
            ("Alpina Roofing", "", ()), ("Vine Valley Dental", "", ()), ("Pine Valley Dental", "", (pine,)),
            ("Bold Electrical", "", ()), ("Hanson Motors", "", ()), ("Hansen Motors GmbH", "", (hansen,)),
            ("Bolt Electrical Ltd", "", (bolt,)), ("Smith & Sons", "", (smith,)), ("Alpine Roofing", "", (alpine,)),
            ("Blue River Dental Clinic", "", (blue,)), ("Red River Dental", "", (red,)),
            ("Green River Dental", "", ()), ("Blue River", "", ())):
        s.case("curated", name, client, *acceptable)
    del s_blue_plumbing


@dataclass
class Score:
    linked: int
    right: int
    linkable: int
    wrong: list[tuple[Case, str]]

    @property
    def precision(self) -> float:
        return self.right / self.linked if self.linked else 1.0

    @property
    def recall(self) -> float:
        return self.right / self.linkable if self.linkable else 1.0


def score(linkset: LinkSet, chosen: dict[str, str | None]) -> Score:
    """How the links ``chosen`` (site code → account REC ID or None) fare against the labels."""
    linked = right = linkable = 0
    wrong: list[tuple[Case, str]] = []
    for case in linkset.cases:
        got = chosen.get(case.site["SiteCode"])
        linkable += bool(case.acceptable)
        if got is None:
            continue
        linked += 1
        if got in case.acceptable:
            right += 1
        else:
            wrong.append((case, got))
    return Score(linked, right, linkable, wrong)
