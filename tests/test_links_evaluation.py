"""The bulk review on the labelled evaluation set (bench/linkset.py), at a smaller size than the
benchmark: it must link almost nothing wrong and most of what a careful person would link, on a
set where a bare similarity score links dozens wrong."""

from __future__ import annotations

from bench.bench_linking import bare_score_review, explain, review
from bench.linkset import build, score


def test_the_review_is_precise_and_finds_most_links_where_a_bare_score_is_not():
    linkset = build(size=96, seed=3)
    ours = score(linkset, review(linkset))
    baseline = score(linkset, bare_score_review(linkset))

    assert ours.precision >= 0.99, explain(linkset, ours)
    assert ours.recall >= 0.85
    # The set is hard: a bare score of 90 links many sites wrong on it.
    assert baseline.precision < 0.9 and len(baseline.wrong) >= 10


def test_every_kind_of_case_is_in_the_set_and_labels_never_disagree():
    linkset = build(size=96, seed=3)
    kinds = {case.kind for case in linkset.cases}
    assert {"look-alike in the pool", "only a look-alike", "one letter from another company", "typo in the brand",
            "duplicate, exactly one of them", "numbered sibling", "written apart", "curated"} <= kinds
    # A site named exactly like an account may always be linked to it: no label says otherwise.
    names = {}
    for rec_id, name in linkset.accounts:
        names.setdefault(name.casefold(), set()).add(rec_id)
    for case in linkset.cases:
        same = names.get(case.site["ClientName"].casefold() or case.site["Name"].casefold())
        if same and len(same) == 1:
            assert same <= case.acceptable, case
