"""How sure a site ↔ account match is: the evidence behind the matcher's verdicts.

A score alone cannot tell *Union Engineering* from *Iron Engineering* (the common word carries
it) or notice that two accounts are equally good. So each candidate gets evidence:

- the raw names equal (case and spacing aside): *exactly the client's name*;
- the normalised names equal (accents, punctuation, ``&``/"and", a leading "The", legal forms);
- otherwise a **weighted overlap** of the words, each word weighted by how rare it is among the
  accounts (a word most accounts share says little) and generic business words (*Engineering*,
  *Logistics*, *Dental*, …) weighted low whatever their count. Words match exactly, written
  together (*North Wind* / *Northwind*), or with a typo in a long word.
- the **distinctive** words (rare ones and numbers) that one side has and the other lacks: one
  such word (*Union* against *Iron*, *Store 12* against *Store 21*) rules a strong match out.

The site's queries are its client name and its name, each also without branch words (*HQ*,
*Head Office*, *- Branch 2*) and without a location after a dash. :func:`verdict` turns the
evidence of the best candidates into ``exact``, ``strong``, ``ambiguous``, ``weak`` or ``none``.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

from agent.hookspecs import APPLIED_VERDICTS, VERDICTS

EXACT, STRONG, AMBIGUOUS, WEAK, NONE = VERDICTS
APPLIED = frozenset(APPLIED_VERDICTS)  # what a bulk review links without a person's choice

# A strong match: this much of the words' weight in common, and this far ahead of the next one.
STRONG_OVERLAP = 0.72
MARGIN = 0.15
WEAK_OVERLAP = 0.3
# A word in fewer than about 20 accounts, and no generic one, tells one business from another.
DISTINCTIVE_WEIGHT = 0.25
GENERIC_WEIGHT = 0.3
TYPO_MIN_LENGTH = 6  # a slip is tolerated in words this long

GENERIC_WORDS = frozenset("""
    accounting advisors advisory agency air and architects architecture art arts associates association
    auto automotive bakery bank bay brothers builders building business cafe capital care center centre
    church city clinic co college communications community company construction consultancy consultants
    consulting contractors corp county creative dental dentistry design designs development
    digital distribution east electric electrical energy engineering enterprises environmental estate
    estates family farm farms finance financial first fitness foods foundation freight furniture
    garage global group health healthcare holdings home homes hospital hotel house industrial industries
    insurance international investments lab labs landscaping law lawyers learning legal logistics
    management manufacturing marketing medical motors national network networks north of office
    partners pharmacy plumbing practice printing products properties property realty renovations
    research restaurant retail roofing sales school schools security service services solutions south
    sports studio studios supplies supply systems tech technologies technology the trading traders
    transport travel trust united university ventures veterinary west wholesale works
""".split())
BRANCH_WORDS = re.compile(
    r"\b(?:hq|head\s*office|main\s*office|headquarters|main\s*site|branch(?:\s*(?:office|no\.?)?\s*\d+)?|"
    r"site\s*\d+|office\s*\d+|location\s*\d+|store\s*#\s*\d+)\b", re.IGNORECASE)
_LOCATION_SPLIT = re.compile(r"\s+[-–—|/]\s+|\s*\(")


SLIP_CREDIT = 0.9  # a word matched but for a slip counts for this much of its weight


@dataclass(frozen=True)
class Evidence:
    """What one candidate has for it; ``overlap`` 0..1."""

    raw_exact: bool
    same_name: bool
    overlap: float
    missing: tuple[str, ...]  # distinctive words one side has and the other lacks
    shared_distinctive: bool
    conflict: bool = False  # each side has a word the other lacks (Traders / Logistics): another business

    @property
    def strength(self) -> float:
        return 1.0 if self.raw_exact or self.same_name else self.overlap

    @property
    def why(self) -> str:
        if self.raw_exact:
            return "exactly the client's name"
        if self.same_name:
            return "same name once normalised"
        if self.missing:
            return f"similar, but {' / '.join(self.missing[:3])} differ"
        if self.conflict:
            return "similar, but each name has a word the other lacks"
        return "the telling words in common" if self.overlap >= STRONG_OVERLAP else "some words in common"


def site_queries(site: dict[str, str]) -> list[list[str]]:
    """The names a site may be known by in the PSA, in groups, most telling first: its client's
    name (Continuum's own record of the customer), then its name; each also without branch
    words and without a location after a dash."""
    groups: list[list[str]] = []
    for raw in (site.get("ClientName", ""), site.get("Name", "")):
        raw = (raw or "").strip()
        if not raw:
            continue
        names = [raw]
        stripped = " ".join(BRANCH_WORDS.sub(" ", raw).split()).strip(" -–—|,")
        if stripped and stripped != raw:
            names.append(stripped)
        head = _LOCATION_SPLIT.split(raw, maxsplit=1)[0].strip()
        if head and head != raw and len(head) >= 3:
            names.append(head)
        groups.append(list(dict.fromkeys(names)))
    return groups


class Weights:
    """Word weights over an account pool: rare words weigh more, generic ones little."""

    def __init__(self, normalised_names: Iterable[str]) -> None:
        df: Counter[str] = Counter()
        for name in normalised_names:
            df.update(set(name.split()))
        # Worked out once per pool: a review asks for the same words thousands of times.
        self._known = {word: self._weigh(word, count) for word, count in df.items()}

    @staticmethod
    def _weigh(word: str, count: int) -> tuple[float, bool]:
        if word.isdigit():
            return 1.0, True
        weight = 1.0 / (1.0 + math.log(max(1, count)))
        if word in GENERIC_WORDS:
            return weight * GENERIC_WEIGHT, False
        return weight, weight >= DISTINCTIVE_WEIGHT

    def of(self, word: str) -> tuple[float, bool]:
        """``(weight, distinctive)`` of a word."""
        known = self._known.get(word)
        return known if known is not None else self._weigh(word, 0)


def is_slip(a: str, b: str) -> bool:
    """One slip of the keyboard between two long words: a letter dropped or doubled, or two
    neighbours swapped. A letter *changed* is not one: *Carter* and *Carver* are two names."""
    if a == b or max(len(a), len(b)) < TYPO_MIN_LENGTH or a.isdigit() or b.isdigit():
        return False
    from rapidfuzz.distance import OSA, Indel  # on first use: see plugins.matcher

    return Indel.distance(a, b) == 1 or (OSA.distance(a, b) == 1 and sorted(a) == sorted(b))


def _match(word: str, others: list[str], used: set[int]) -> tuple[int, float] | None:
    """The unused word of ``others`` that ``word`` is (exactly, or but for one slip)."""
    for i, other in enumerate(others):
        if i not in used and other == word:
            return i, 1.0
    for i, other in enumerate(others):
        if i not in used and is_slip(word, other):
            return i, SLIP_CREDIT
    return None


def _joined(words: list[str]) -> list[str]:
    """Neighbours written together, so that *North Wind* meets *Northwind*."""
    return [a + b for a, b in zip(words, words[1:])]


def compare(query_raw: str, query_norm: str, account_raw: str, account_norm: str, weights: Weights) -> Evidence:
    raw_exact = " ".join(query_raw.casefold().split()) == " ".join(account_raw.casefold().split())
    if raw_exact or (query_norm and query_norm == account_norm):
        return Evidence(raw_exact, True, 1.0, (), True)
    q, a = query_norm.split(), account_norm.split()
    if not q or not a:
        return Evidence(False, False, 0.0, (), False)
    q_hit, a_hit = [0.0] * len(q), [0.0] * len(a)
    used: set[int] = set()
    for i, word in enumerate(q):
        found = _match(word, a, used)
        if found:
            used.add(found[0])
            q_hit[i] = a_hit[found[0]] = found[1]
    _pairs(q, a, q_hit, a_hit)
    _pairs(a, q, a_hit, q_hit)
    words = [(w, h, *weights.of(w)) for w, h in [*zip(q, q_hit), *zip(a, a_hit)]]
    total = sum(weight for _, _, weight, _ in words)
    common = sum(weight * h for _, h, weight, _ in words)
    missing = tuple(dict.fromkeys(w for w, h, _, telling in words if h == 0 and telling))
    shared = any(h > 0 and telling for _, h, _, telling in words)
    conflict = 0 in q_hit and 0 in a_hit
    return Evidence(False, False, common / total if total else 0.0, missing, shared, conflict)


def _pairs(these: list[str], those: list[str], these_hit: list[float], those_hit: list[float]) -> None:
    """Two unmatched neighbours of ``these`` written together as one unmatched word of ``those``."""
    for i, pair in enumerate(_joined(these)):
        if these_hit[i] or these_hit[i + 1]:
            continue
        for j, word in enumerate(those):
            if not those_hit[j] and word == pair:
                these_hit[i] = these_hit[i + 1] = those_hit[j] = 1.0
                break


def _contends(other: Evidence, top: Evidence) -> bool:
    """Whether ``other`` is about as good as ``top``: close, and not plainly another name (a telling
    word of its own) unless it is every bit as close."""
    if other.strength < max(WEAK_OVERLAP, top.strength - MARGIN):
        return False
    return other.strength >= top.strength or not (other.missing or other.conflict)


def verdict(ranked: list[Evidence]) -> str:
    """The verdict on the best candidate, given every candidate's evidence, best first."""
    if not ranked:
        return NONE
    top = ranked[0]
    rest = ranked[1:]
    if top.raw_exact:
        return AMBIGUOUS if any(e.raw_exact for e in rest) else EXACT
    if top.same_name:
        return AMBIGUOUS if any(e.same_name for e in rest) else EXACT
    if top.overlap < WEAK_OVERLAP:
        return WEAK
    if any(_contends(e, top) for e in rest):
        return AMBIGUOUS
    if top.overlap >= STRONG_OVERLAP and not top.missing and not top.conflict and top.shared_distinctive:
        return STRONG
    return WEAK
