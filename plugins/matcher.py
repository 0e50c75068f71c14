"""Built-in link suggestions (R18): normalised name similarity, serial numbers for devices.

Names are normalised (accents, case, punctuation, ``&`` → ``and``, a leading "The", trailing
legal forms such as Inc, LLC, Ltd, GmbH) and then ranked with rapidfuzz's ``WRatio``.
Scoring every site against every account with ``WRatio`` is too slow for thousands of each,
so candidates are first gathered from a word index (with a cheap typo-tolerant look-up of
each word); only those are scored. The index of an account list is kept for as long as the
caller keeps handing the same list, so a bulk review builds it once.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from agent.hookspecs import AccountPool, Suggestion, hookimpl
from plugins import _name_evidence as evidence

if TYPE_CHECKING:
    from config.loader import Settings

DEFAULT_ENABLED = True
NAME = "matcher"

SAME_NAME = "same name once normalised"
ALL_WORDS = "all words in common"
SIMILAR = "similar name"
SAME_SERIAL = "same serial number"

LEGAL_FORMS = frozenset("""
    inc incorporated llc llp lp lc pllc ltd limited gmbh mbh ag kg kgaa ohg ug corp corporation co
    company plc pty pvt sa sas sarl srl spa bv nv oy ab aps as asa pc cv se
""".split())
JUNK_SERIALS = frozenset(s.casefold() for s in (
    "To be filled by O.E.M.", "To be filled by OEM", "Default string", "System Serial Number",
    "Chassis Serial Number", "Serial Number", "Base Board Serial Number", "0", "None", "N/A", "NA",
    "Not Specified", "Not Applicable", "Not Available", "Unknown", "Invalid", "Default", "OEM",
    "123456789", "0123456789", "1234567890", "System Product Name", "Type1ProductConfigId",
))
# Beyond this many candidates from the word index, only the more telling ones are scored.
CANDIDATE_CAP = 300
# How many of the best-ranked accounts the verdict weighs (a tie needs the runner-up in view).
VERDICT_CANDIDATES = 6
_DROPPED = re.compile(r"[.'’`´]")
_NON_WORD = re.compile(r"[^0-9a-z]+")


def _plain(text: str) -> str:
    """Accents off, case folded."""
    decomposed = unicodedata.normalize("NFKD", text or "")
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold().replace("ß", "ss")


def normalise_name(name: str) -> str:
    """The comparable form of a company name: ``"The Smith & Sons, Ltd."`` → ``"smith and sons"``."""
    text = _plain(name).replace("&", " and ").replace("+", " and ")
    words = _NON_WORD.sub(" ", _DROPPED.sub("", text)).split()
    if len(words) > 1 and words[0] == "the":
        words = words[1:]
    while len(words) > 1 and (words[-1] in LEGAL_FORMS or words[-1] == "and"):
        words.pop()
    return " ".join(words)


def normalise_host(name: str) -> str:
    """The comparable form of a machine or asset name: domain part off, punctuation to spaces."""
    text = _plain(name).strip()
    if "." in text and " " not in text:
        text = text.split(".", 1)[0]
    return " ".join(_NON_WORD.sub(" ", text).split())


def is_junk_serial(serial: str | None) -> bool:
    """True for serial numbers that many machines share (BIOS placeholders, zeros, blanks)."""
    text = (serial or "").strip()
    if text.casefold() in JUNK_SERIALS or len(text) < 3:
        return True
    compact = re.sub(r"[\s\-_.:]", "", text)
    return len(compact) < 3 or len(set(compact.casefold())) == 1


def _serial_key(serial: str) -> str:
    return re.sub(r"[\s\-_.:]", "", serial or "").upper()


def _reason(query: str, candidate: str) -> str:
    from rapidfuzz import fuzz

    if query == candidate:
        return SAME_NAME
    if fuzz.token_set_ratio(query, candidate, processor=None) == 100:
        return ALL_WORDS
    return SIMILAR


class NameIndex:
    """Normalised names with a word index, for fast ranking of many queries."""

    def __init__(self, names: Iterable[str], normalise: Callable[[str], str] = normalise_name) -> None:
        self.normalise = normalise
        self.norms: list[str] = [normalise(n) for n in names]
        self.postings: dict[str, set[int]] = {}
        for i, norm in enumerate(self.norms):
            for word in _index_words(norm):
                self.postings.setdefault(word, set()).add(i)
        self._by_initial: dict[str, list[str]] = {}
        for word in self.postings:
            self._by_initial.setdefault(word[0], []).append(word)
        self._near_cache: dict[str, list[str]] = {}
        self.weights: evidence.Weights | None = None  # set for an account index

    def _near_words(self, word: str) -> list[str]:
        """Indexed words equal or close to ``word`` (typos; same first letter)."""
        near = self._near_cache.get(word)
        if near is None:
            from rapidfuzz import fuzz, process

            near = [word] if word in self.postings else []
            if len(word) >= 4:
                pool = self._by_initial.get(word[0], [])
                near += [w for w, _, _ in process.extract(word, pool, scorer=fuzz.ratio, processor=None,
                                                          score_cutoff=80, limit=8) if w != word]
            self._near_cache[word] = near
        return near

    def candidates(self, query: str) -> set[int]:
        lists = [self.postings[w] for word in _index_words(query) for w in self._near_words(word)]
        union = set().union(*lists) if lists else set()
        if len(union) <= CANDIDATE_CAP:
            return union
        # Too many: keep names sharing two of the query's words, and those of its rarer words.
        lists.sort(key=len)
        keep: set[int] = set()
        for i, first in enumerate(lists):
            if len(first) <= CANDIDATE_CAP // 2:
                keep |= first
            for second in lists[i + 1:]:
                keep |= first & second
        return keep or set(lists[0])

    def rank(self, queries: Iterable[str], limit: int) -> list[tuple[int, float, str]]:
        """``(index, score, reason)`` of the best ``limit`` names for any of ``queries``, best first."""
        # rapidfuzz is imported on first use: every command that loads the plugins would pay for it.
        from rapidfuzz import fuzz, process

        best: dict[int, tuple[float, str]] = {}
        for query in dict.fromkeys(self.normalise(raw) for raw in queries):
            if not query:
                continue
            cands = sorted(self.candidates(query))
            choices = [self.norms[i] for i in cands]
            for _, score, pos in process.extract(query, choices, scorer=fuzz.WRatio, processor=None,
                                                 limit=limit, score_cutoff=1):
                index = cands[pos]
                score = 100.0 if choices[pos] == query else min(round(score, 1), 99.0)
                if score > best.get(index, (-1.0, ""))[0]:
                    best[index] = (score, _reason(query, choices[pos]))
        ranked = sorted(best.items(), key=lambda item: (-item[1][0], item[0]))[:limit]
        return [(i, score, reason) for i, (score, reason) in ranked]


def _index_words(norm: str) -> list[str]:
    """The words of a normalised name, plus each pair of neighbours written together."""
    words = norm.split()
    return words + [a + b for a, b in zip(words, words[1:])]


def _account_index(accounts: list[tuple[str, str]]) -> NameIndex:
    """The index of the accounts' names, kept on the pool the agent hands out (an AccountPool) as
    long as it holds the same number of accounts; built afresh for any other list."""
    kept = accounts.derived.get(NAME) if isinstance(accounts, AccountPool) else None
    if kept is not None and kept[0] == len(accounts):
        held: NameIndex = kept[1]
        return held
    index = NameIndex(name for _, name in accounts)
    index.weights = evidence.Weights(index.norms)
    if isinstance(accounts, AccountPool):
        accounts.derived[NAME] = (len(accounts), index)
    return index


def suggest_accounts(site: dict[str, str], accounts: list[tuple[str, str]], limit: int) -> list[Suggestion]:
    """Accounts ranked by the evidence that they are the site's (its client name, its name), each
    with a verdict (see :mod:`plugins._name_evidence`)."""
    if not accounts or limit <= 0:
        return []
    index = _account_index(accounts)
    groups = [[(q, normalise_name(q)) for q in group] for group in evidence.site_queries(site)]
    every = [q for group in groups for q in group]
    candidates = index.rank([q for q, _ in every], max(limit, VERDICT_CANDIDATES))
    # The client's name decides when it is sure on its own; the site's name only adds to it.
    for queries in [*groups[:1], every] if len(groups) > 1 else [every]:
        ranked = _judge(index, accounts, candidates, queries)
        judged = [e for _, (e, _) in ranked]
        top_verdict = evidence.verdict(judged)
        if top_verdict in evidence.APPLIED:
            break
    out = []
    for n, (i, (found_evidence, _)) in enumerate(ranked[:limit]):
        if n == 0:
            verdict = top_verdict
        else:
            close = found_evidence.strength >= judged[0].strength - evidence.MARGIN
            verdict = evidence.AMBIGUOUS if close and top_verdict == evidence.AMBIGUOUS else evidence.WEAK
        score = 100.0 if found_evidence.strength >= 1.0 else min(99.0, round(found_evidence.overlap * 100, 1))
        out.append(Suggestion(accounts[i][0], accounts[i][1], score, found_evidence.why, verdict))
    return out


def _judge(index: NameIndex, accounts: list[tuple[str, str]], candidates: list[tuple[int, float, str]],
           queries: list[tuple[str, str]]) -> list[tuple[int, tuple[evidence.Evidence, float]]]:
    """The candidates with their best evidence from ``queries``, strongest first."""
    assert index.weights is not None
    found = {}
    unique = list({norm: raw for raw, norm in reversed(queries)}.items())  # by normalised form, first raw
    raws = {" ".join(raw.casefold().split()) for raw, _ in queries}
    for i, score, _ in candidates:
        if " ".join(accounts[i][1].casefold().split()) in raws:
            best = evidence.Evidence(True, True, 1.0, (), True)
        else:
            best = max((evidence.compare(raw, norm, accounts[i][1], index.norms[i], index.weights)
                        for norm, raw in unique), key=_evidence_order)
        found[i] = (best, score)
    return sorted(found.items(), key=lambda item: (_evidence_order(item[1][0]), item[1][1], -item[0]), reverse=True)


def _evidence_order(e: evidence.Evidence) -> tuple[float, bool, bool]:
    return (e.strength, e.raw_exact, not e.missing)


def suggest_assets(device: dict[str, str], assets: list[dict[str, Any]], limit: int) -> list[Suggestion]:
    """Assets with the device's serial number first, then those whose names are most alike."""
    if not assets or limit <= 0:
        return []
    out: list[Suggestion] = []
    serial = device.get("SerialNumber", "")
    if not is_junk_serial(serial):
        key = _serial_key(serial)
        out = [Suggestion(a["rec_id"], a["name"], 100.0, SAME_SERIAL) for a in assets
               if not is_junk_serial(a.get("serial")) and _serial_key(a.get("serial", "")) == key][:limit]
    taken = {s.rec_id for s in out}
    if len(out) < limit:
        index = NameIndex((a["name"] for a in assets), normalise=normalise_host)
        queries = _unique([device.get("Name", ""), device.get("FriendlyName", "")])
        for i, score, reason in index.rank(queries, limit + len(taken)):
            if assets[i]["rec_id"] not in taken and len(out) < limit:
                out.append(Suggestion(assets[i]["rec_id"], assets[i]["name"], min(score, 99.0),
                                      reason.replace(SAME_NAME, "same name")))
    return out


def _unique(values: list[str]) -> list[str]:
    return list(dict.fromkeys(v for v in values if v and v.strip()))


@hookimpl(trylast=True)
def zenith_suggest_accounts(site: dict[str, str], accounts: AccountPool, limit: int,
                            settings: Settings) -> list[Suggestion]:
    return suggest_accounts(site, accounts, limit)


@hookimpl(trylast=True)
def zenith_suggest_assets(device: dict[str, str], assets: list[dict[str, Any]], limit: int,
                          settings: Settings) -> list[Suggestion]:
    return suggest_assets(device, assets, limit)
