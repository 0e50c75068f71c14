"""What the Links Manager screens (sites, devices) keep while one works through a list.

The list and the selected record's details are one screen: its URL holds the tab, the search
words, the page of the list and the selected record, and every form of the screen carries
them, so that an action lands back on the same list, search kept, the next record selected.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import urlencode

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response

from agent.sync.links import InventoryNotDownloaded, LinksManager, Listing
from agent.web.context import Viewer, console_of, redirect, render

PAGE_SIZE = 50
REVIEW_MAX_ROWS = 500
TABS = ("unlinked", "linked")
PICK_ROWS = 20  # accounts or assets a search shows at once: narrow the words for others


@dataclass(frozen=True)
class ManagerView:
    """One state of a Links Manager screen; ``path`` is ``/sites`` or ``/devices``."""

    path: str
    tab: str = "unlinked"
    q: str = ""
    sel: str = ""
    offset: int | None = None
    find: str = ""  # the words of the account or asset search in the details
    rmm: str = ""  # the InstanceID of the extra RMM whose list is shown; "" for the primary RMM's

    @classmethod
    def of_request(cls, path: str, request: Request) -> ManagerView:
        params = request.query_params
        return cls(path, _tab(params.get("tab")), params.get("q", "").strip(), params.get("sel", "").strip(),
                   _offset(params.get("offset")), params.get("find", "").strip(), params.get("rmm", "").strip())

    @classmethod
    def of_form(cls, path: str, form: FormData, sel: str) -> ManagerView:
        """The screen a form was sent from (its hidden ``tab``, ``q``, ``offset`` and ``rmm``), on ``sel``."""
        return cls(path, _tab(_text(form, "tab")), _text(form, "q"), sel, _offset(_text(form, "offset")),
                   rmm=_text(form, "rmm"))

    @property
    def linked(self) -> bool:
        return self.tab == "linked"

    def url(self, **changes) -> str:
        view = replace(self, **changes)
        params = {"rmm": view.rmm, "tab": view.tab, "q": view.q, "sel": view.sel, "offset": view.offset,
                  "find": view.find}
        kept = {k: v for k, v in params.items() if v not in (None, "") and not (k == "tab" and v == "unlinked")}
        return view.path + ("?" + urlencode(kept) if kept else "")

    def hidden(self) -> dict[str, str]:
        """The fields every form of the screen carries, to come back to the same list."""
        fields = {"tab": self.tab, "q": self.q}
        if self.rmm:
            fields["rmm"] = self.rmm
        if self.offset is not None:
            fields["offset"] = str(self.offset)
        return fields


def _tab(value: str | None) -> str:
    return value if value in TABS else "unlinked"


def _offset(value: str | None) -> int | None:
    try:
        return max(0, int(value)) if value not in (None, "") else None
    except ValueError:
        return None


def _text(form: FormData, name: str) -> str:
    value = form.get(name)
    return value.strip() if isinstance(value, str) else ""


def page_offset(view: ManagerView, position: int | None) -> int:
    """The list's offset: the one asked for, else the page holding the selected record."""
    if view.offset is not None:
        return view.offset
    if position is None:
        return 0
    return position - position % PAGE_SIZE


def links_of(request: Request, rmm: str = "") -> LinksManager:
    """The links manager of the primary RMM, or (``rmm``) of the extra RMM of that InstanceID: its
    listings are that RMM's sites and devices. Any of them links any RMM's site or device (its
    identifier says which RMM's inventory file holds it)."""
    app = console_of(request).app
    chosen = next((i for i in app.instances if i.instance_id == rmm), app) if rmm else app
    return LinksManager(chosen)


def rmm_choices(request: Request) -> list[tuple[str, str]]:
    """``(InstanceID or "", label)`` of every RMM of the agent when there are several, else nothing."""
    app = console_of(request).app
    if not app.instances:
        return []
    settings = app.settings
    return [("", f"{settings.rmm_backend} ({settings.instance_id})"),
            *((i.instance_id, f"{i.settings.rmm_backend} ({i.instance_id})") for i in app.instances)]


def no_inventory(request: Request, viewer: Viewer, exc: InventoryNotDownloaded, nav: str) -> Response:
    return render(request, "no_inventory.html", viewer, message=exc.web_message, nav=nav)


def then_next(form: FormData) -> bool:
    """Whether the person asked to go on to the next unlinked record once this one is done."""
    return form.get("then") == "next"


def after_change(request: Request, view: ManagerView, form: FormData, following: str | None, said: str) -> Response:
    """Back to the screen: on the record just changed, or (``then=next``) on the next unlinked one."""
    if not then_next(form):
        return redirect(request, view.url(), said)
    if following is None:
        return redirect(request, view.url(), f"{said} No unlinked one is left{' for this search' if view.q else ''}.")
    return redirect(request, view.url(tab="unlinked", sel=following, offset=None), f"{said} Next: {following}.")


#: The selected record's details side: (links, view with the selection, the listing) -> template values.
Detail = Callable[[LinksManager, "ManagerView", Listing], dict[str, Any]]


def manager_screen(request: Request, viewer: Viewer, kind: str, key: str, detail: Detail) -> Response:
    """The Links Manager screen of ``kind`` (``sites`` or ``devices``): the page of the listing that
    holds the selected record (``key`` names a row's id), its tabs' counts, and the record's details."""
    view = ManagerView.of_request(f"/{kind}", request)
    links = links_of(request, view.rmm)
    try:
        listing = links.listing(kind, view.q)
        offset = page_offset(view, listing.position(view.sel, view.linked) if view.sel else None)
        found = links.page_of(listing, view.linked, offset, PAGE_SIZE)
    except InventoryNotDownloaded as exc:
        return no_inventory(request, viewer, exc, kind)
    sel = view.sel or (found.rows[0][key] if found.rows else "")
    view = replace(view, sel=sel, offset=offset or None)
    return render(request, f"{kind}.html", viewer, nav=kind, view=view, found=found, counts=listing.counts(),
                  page_size=PAGE_SIZE, detail=detail(links, view, listing) if sel else None,
                  rmms=rmm_choices(request))
