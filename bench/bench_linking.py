"""Precision and recall of the bulk site review on the labelled evaluation set (bench/linkset.py).

The review links a site when the matcher's verdict is exact or strong. Target: precision at least
99.5 % (at most one wrong link in 200) with recall at least 85 %. Baseline, in the same run: the
bare-score review that linked every site whose best name similarity (rapidfuzz's WRatio on the
normalised names) is 90 or more with no tie, as the README once advised.
"""

from __future__ import annotations

from agent.hookspecs import AccountPool
from bench.common import Table, stopwatch
from bench.linkset import LinkSet, Score, build, score
from plugins.matcher import NameIndex, suggest_accounts

BASELINE_MIN_SCORE = 90.0


def review(linkset: LinkSet) -> dict[str, str | None]:
    """What the bulk review links: site code → account, for exact and strong verdicts only."""
    chosen: dict[str, str | None] = {}
    accounts = AccountPool(linkset.accounts)  # as the links manager hands them: one pool for the review
    for case in linkset.cases:
        best = suggest_accounts(case.site, accounts, 3)
        sure = best and best[0].verdict in ("exact", "strong")
        chosen[case.site["SiteCode"]] = best[0].rec_id if sure else None
    return chosen


def bare_score_review(linkset: LinkSet, min_score: float = BASELINE_MIN_SCORE) -> dict[str, str | None]:
    index = NameIndex(name for _, name in linkset.accounts)
    chosen: dict[str, str | None] = {}
    for case in linkset.cases:
        queries = [q for q in (case.site.get("Name", ""), case.site.get("ClientName", "")) if q]
        ranked = index.rank(queries, 2)
        tie = len(ranked) > 1 and ranked[1][1] == ranked[0][1]
        ok = ranked and ranked[0][1] >= min_score and not tie
        chosen[case.site["SiteCode"]] = linkset.accounts[ranked[0][0]][0] if ok else None
    return chosen


def explain(linkset: LinkSet, result: Score, limit: int = 10) -> list[str]:
    """The wrong links, for a person to read."""
    names = dict(linkset.accounts)
    return [f"{case.kind}: site {case.site['Name']!r} (client {case.site['ClientName']!r}) -> {names[got]!r}"
            for case, got in result.wrong[:limit]]


def main(quick: bool = False) -> Table:
    linkset = build(80 if quick else 240)
    with stopwatch() as took:
        ours = score(linkset, review(linkset))
    base = score(linkset, bare_score_review(linkset))
    table = Table(f"Bulk site review on {len(linkset.cases)} labelled sites among {len(linkset.accounts)} accounts "
                  f"({ours.linkable} have an account a careful person would link)")
    table.add("precision of the review (exact + strong)", ours.precision * 100, "%", baseline=base.precision * 100,
              target=">= 99.5")
    table.add("recall of the review", ours.recall * 100, "%", baseline=base.recall * 100, target=">= 85")
    table.add("wrong links", len(ours.wrong), "links", baseline=len(base.wrong), higher_is_better=False)
    table.add("review time per site", took[0] / len(linkset.cases) * 1000, "ms", higher_is_better=False)
    for line in explain(linkset, ours):
        print("wrong:", line)
    return table


if __name__ == "__main__":
    main().print()
