"""The bulk review of unlinked sites: each with its best account and the matcher's verdict, and
the sure matches (exact or strong) linked in one transaction."""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import replace

from agent.errors import UsageError
from agent.hookspecs import APPLIED_VERDICTS, Suggestion
from agent.sync.links.core import LinksCore
from agent.sync.links.inventory import fold
from agent.sync.links.listings import Listings
from agent.sync.links.plan import PlanAction, SitePlanRow
from agent.sync.links.suggestions import Suggestions
from dbsys import inventory as inventory_index

CONTENDERS = 3


class SiteReview:
    def __init__(self, core: LinksCore, listings: Listings, suggestions: Suggestions) -> None:
        self.core = core
        self.listings = listings
        self.suggestions = suggestions

    def plan(self, min_score: float | None = None, only: Collection[str] | None = None, *,
             verdicts: Collection[str] = APPLIED_VERDICTS) -> list[SitePlanRow]:
        """Every unlinked site (of ``only``, when given) with its best suggestion and the matcher's
        verdict on it; ``action`` says what :meth:`apply` would do: ``link`` only for a verdict in
        ``verdicts`` (exact or strong; never ``ambiguous`` or ``weak``) scoring at least ``min_score``.
        Sites of different Continuum clients that would all go to one account are left for a
        person too: one of them at most is that account's."""
        accounts = self.suggestions.suggestion_accounts()
        wanted = set(only) if only is not None else None
        lookup = inventory_index.record_lookup(self.core.settings, "sites")
        plan = []
        for code in self.listings.listing("sites").keys(False):
            if wanted is not None and code not in wanted:
                continue
            record = lookup(code) or {}
            best = self.suggestions.for_site(record, accounts, CONTENDERS)
            top = best[0] if best else None
            verdict = (top.verdict or _verdict_from_scores(best)) if top else "none"
            selected = (top is not None and verdict in verdicts
                        and (min_score is None or top.score >= min_score))
            action = PlanAction.LINK if selected else (PlanAction.REVIEW if top else PlanAction.NO_SUGGESTION)
            plan.append(SitePlanRow(
                site_code=code, site_name=record.get("Name", ""), client_name=record.get("ClientName", ""),
                account_rec_id=top.rec_id if top else None, account_name=top.name if top else None,
                score=top.score if top else None, reason=top.reason if top else "", verdict=verdict,
                contenders=[s.as_dict() for s in best[1:]] if verdict == "ambiguous" else [], action=action))
        return _hold_shared_accounts(plan)

    def apply(self, plan: list[SitePlanRow], user: str | None) -> list[SitePlanRow]:
        """Link every plan row whose action is ``link``, in one transaction; returns the plan with
        those rows ``linked``."""
        core = self.core
        core.privilege(user, "link sites to accounts")
        chosen = [row for row in plan if row.action is PlanAction.LINK]
        if not chosen:
            return plan
        with core.app.unit_of_work():
            for row in chosen:
                core.state.link_site(row.site_code, row.account_rec_id, by=user or "")
                core.state.audit(user or "", "link_site", f"site {row.site_code} {row.site_name!r} → account "
                                 f"{row.account_rec_id} {row.account_name!r} (review, score {row.score})")
        core.changed(f"{len(chosen)} site(s) linked by review by {user}", action="review", user=user,
                     links={row.site_code: row.account_rec_id for row in chosen})
        return [replace(row, action=PlanAction.LINKED) if row.action is PlanAction.LINK else row for row in plan]

    def review(self, min_score: float | None = None, dry_run: bool = False, user: str | None = None, *,
               apply: bool = False, verdicts: Collection[str] = APPLIED_VERDICTS) -> list[SitePlanRow]:
        """The plan; with ``apply`` (or a ``min_score``, which implies it) and not ``dry_run``, also
        link its ``link`` rows: verdict exact or strong, and at least ``min_score`` when given."""
        applying = (apply or min_score is not None) and not dry_run
        if applying:
            self.core.privilege(user, "link sites to accounts")
        if min_score is not None and not 0 <= min_score <= 100:
            raise UsageError(f"the minimum score must be between 0 and 100, not {min_score}")
        unknown = set(verdicts) - set(APPLIED_VERDICTS)
        if unknown:
            raise UsageError(f"a review links only {' and '.join(APPLIED_VERDICTS)} matches, not "
                             f"{', '.join(sorted(unknown))}: those need a person's choice")
        plan = self.plan(min_score, verdicts=verdicts)
        return self.apply(plan, user) if applying else plan


def _verdict_from_scores(best: list[Suggestion]) -> str:
    """For a matcher that gives no verdict: only a lone best score of 100 counts as exact."""
    if best and best[0].score >= 100:
        return "ambiguous" if len(best) > 1 and best[1].score >= 100 else "exact"
    return "weak"


def _hold_shared_accounts(plan: list[SitePlanRow]) -> list[SitePlanRow]:
    """Sites of several Continuum clients bound for one account: one client at most is that
    account's. The client whose name is the account's (a lone exact match) keeps its links; the
    others are left for a person."""
    clients: dict[str | None, set[str]] = {}
    exact: dict[str | None, set[str]] = {}
    for row in plan:
        if row.action is PlanAction.LINK:
            clients.setdefault(row.account_rec_id, set()).add(_client_of(row))
            if row.verdict == "exact":
                exact.setdefault(row.account_rec_id, set()).add(_client_of(row))

    def held(row: SitePlanRow) -> SitePlanRow:
        account = row.account_rec_id
        if row.action is not PlanAction.LINK or len(clients.get(account, ())) < 2:
            return row
        if exact.get(account) == {_client_of(row)}:
            return row
        return replace(row, action=PlanAction.REVIEW, verdict="ambiguous",
                       reason=f"{row.reason}; sites of {len(clients[account])} Continuum clients would share "
                              "this account")

    return [held(row) for row in plan]


def _client_of(row: SitePlanRow) -> str:
    """Which Continuum client a site is: its client name, else its name before a location."""
    name = row.client_name or re.split(r"\s+[-–—|]\s+|\s*\(", row.site_name or "", maxsplit=1)[0]
    return fold(name)
