"""Review plans: what a bulk review of the unlinked sites or devices would do, row by row.

A row is a frozen value; deciding a row (a person's tick on the review screen, a link made by
``apply``) makes a new row, so a plan shown once is never changed under its reader.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from enum import StrEnum
from typing import Any


class PlanAction(StrEnum):
    """What a review does with a row: ``link`` it, leave it for a person (``review``), nothing to
    suggest; ``linked`` once applied."""

    LINK = "link"
    REVIEW = "review"
    NO_SUGGESTION = "no suggestion"
    LINKED = "linked"


@dataclass(frozen=True)
class SitePlanRow:
    """An unlinked site, its best account and the matcher's verdict on it."""

    site_code: str
    site_name: str
    client_name: str
    account_rec_id: str | None
    account_name: str | None
    score: float | None
    reason: str
    verdict: str
    action: PlanAction
    #: When the verdict is ``ambiguous``: the other accounts as good (``Suggestion.as_dict()``).
    contenders: list[dict[str, Any]] = field(default_factory=list)

    @property
    def tie(self) -> bool:
        return self.verdict == "ambiguous"

    def decided(self, link: bool) -> SitePlanRow:
        """The row to be linked (``link``) or left for a person."""
        return replace(self, action=PlanAction.LINK if link else PlanAction.REVIEW)

    def as_dict(self) -> dict[str, Any]:
        """The JSON shape of ``links review --json``."""
        return {**asdict(self), "action": str(self.action), "tie": self.tie}


@dataclass(frozen=True)
class DevicePlanRow:
    """An unlinked device and the unlinked asset of the same serial number or machine name that
    the asset hook ranks first; ``candidates`` are every asset sharing it."""

    device_id: str
    device_name: str
    serial: str
    site_code: str
    asset_rec_id: str
    asset_name: str
    score: float
    reason: str
    tie: bool
    weak: bool
    action: PlanAction
    candidates: list[tuple[str, str]] = field(default_factory=list)

    def decided(self, asset_rec_id: str | None) -> DevicePlanRow:
        """The row to be linked to ``asset_rec_id`` (one of its candidates), or, when it is none
        of them, left for a person."""
        if asset_rec_id and asset_rec_id in {rec_id for rec_id, _ in self.candidates}:
            name = dict(self.candidates)[asset_rec_id]
            return replace(self, asset_rec_id=asset_rec_id, asset_name=name, action=PlanAction.LINK)
        return replace(self, action=PlanAction.REVIEW)

    def as_dict(self) -> dict[str, Any]:
        """The JSON shape of ``links review devices --json``."""
        return {**asdict(self), "action": str(self.action), "candidates": [list(c) for c in self.candidates]}


def to_link(plan: list[SitePlanRow] | list[DevicePlanRow]) -> int:
    """How many rows of ``plan`` a review would link."""
    return sum(1 for row in plan if row.action is PlanAction.LINK)


def linked(plan: list[SitePlanRow] | list[DevicePlanRow]) -> int:
    """How many rows of ``plan`` were linked by applying it."""
    return sum(1 for row in plan if row.action is PlanAction.LINKED)
