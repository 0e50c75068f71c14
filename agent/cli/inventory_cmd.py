"""``zenithlink inventory refresh | sites | devices``: download and read the inventory files."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

import click

from agent.cli.options import json_option, of_rmm, rmm_option
from agent.cli.output import TABLE_LIMIT, done, emit_json, reader_went_away, rich_console, table, tsv
from agent.cli.readonly import read_only
from agent.errors import PreconditionError, ZenithError, describe, describe_once
from dbsys.inventory import inventory_path

if TYPE_CHECKING:
    from rich.progress import TaskID

    from agent.sync.inventory.refresh import Progress
    from dbsys.cmt import Kind

# Above this many items a listing is streamed as tab-separated lines instead of a drawn table.
COLUMNS = {"sites": ("SiteCode", "Name", "ClientName", "SiteID"),
           "devices": ("DeviceID", "SiteCode", "Name", "DeviceType", "SerialNumber")}


class InventoryFailed(ZenithError):
    code = "InventoryFailed"


@click.group("inventory")
def inventory() -> None:
    """Continuum sites and devices in the Dbsys folder's .cmt files."""


@inventory.command("refresh")
@rmm_option
@json_option
@click.pass_obj
def inventory_refresh(app, rmm: str | None, as_json: bool) -> None:
    """Download sites and devices now and write the .cmt files."""
    # Imported here: the listings need none of the download (the RMM client, the publishing).
    from agent.sync.inventory.refresh import refresh, sweep_if_idle

    app = of_rmm(app, rmm)
    sweep_if_idle(app.settings)
    try:
        with _progress() as progress:
            result = refresh(app, progress)
    except Exception as exc:  # noqa: BLE001 - every failure becomes one actionable sentence
        raise InventoryFailed(f"The inventory refresh failed: {describe_once(exc)} "
                              "The previous inventory files were kept.") from None
    if as_json:
        emit_json(result.as_dict())
    else:
        done(f"Inventory refreshed: {result.summary()}")


@inventory.command("sites")
@rmm_option
@json_option
@click.pass_obj
@read_only
def inventory_sites(app, rmm: str | None, as_json: bool) -> None:
    """The downloaded sites."""
    _list(of_rmm(app, rmm), "sites", as_json, None)


@inventory.command("devices")
@click.option("--site", "site_code", default=None, help="Only the devices of this site code.")
@rmm_option
@json_option
@click.pass_obj
@read_only
def inventory_devices(app, site_code: str | None, rmm: str | None, as_json: bool) -> None:
    """The downloaded devices."""
    _list(of_rmm(app, rmm), "devices", as_json, site_code)


# -- refresh helpers --------------------------------------------------------------------------
@contextmanager
def _progress() -> Iterator[Progress]:
    if not sys.stderr.isatty():
        yield _plain_progress
        return
    from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeElapsedColumn
    from rich.progress import Progress as Bar

    columns = (TextColumn("{task.description:<8}"), BarColumn(), MofNCompleteColumn(),
               TextColumn("page {task.fields[page]}"), TimeElapsedColumn())
    with Bar(*columns, console=rich_console(stderr=True), transient=False) as bar:
        tasks: dict[str, TaskID] = {}

        def update(kind: str, page: int, items: int, total: int) -> None:
            if kind not in tasks:
                tasks[kind] = bar.add_task(kind, total=None, page=0)
            bar.update(tasks[kind], completed=items, total=total if total >= 0 else None, page=page)

        yield update


def _plain_progress(kind: str, page: int, items: int, total: int) -> None:
    of = f" of {total}" if total >= 0 else ""
    click.echo(f"{kind}: page {page}, {items}{of}", err=True)


# -- listings ---------------------------------------------------------------------------------
def _list(app, kind: Kind, as_json: bool, site_code: str | None) -> None:
    from dbsys import cmt

    path = inventory_path(app.settings, kind)
    try:
        _generated, count = cmt.inventory_header(path)
        items = cmt.read_inventory(path, kind)
    except cmt.MissingInventory as exc:
        raise PreconditionError(f"{exc} To download it now, run 'zenithlink inventory refresh'.") from None
    except Exception as exc:  # noqa: BLE001 - a damaged file: say which and what to do
        raise PreconditionError(f"{describe(exc)} Run 'zenithlink inventory refresh' to write it again.") from None
    if site_code:
        items = (item for item in items if item.get("SiteCode") == site_code)
    try:
        if as_json:
            _stream_json(items)
        elif count <= TABLE_LIMIT:
            table(f"{kind} ({path.name})", COLUMNS[kind], ([item.get(c, "") for c in COLUMNS[kind]] for item in items))
        else:
            tsv(COLUMNS[kind], ([item.get(c, "") for c in COLUMNS[kind]] for item in items))
    except ZenithError:
        raise
    except Exception as exc:  # noqa: BLE001 - damaged part-way through
        if isinstance(exc, OSError) and reader_went_away(exc):
            raise  # `| head`: the reader has all it wanted; the entry point ends quietly
        from loguru import logger  # on use: a command that never logs here starts faster
        logger.debug("reading {} failed: {}", path, exc)
        raise PreconditionError(f"{describe(exc)} Run 'zenithlink inventory refresh' to write it again.") from None


def _stream_json(items: Iterator[dict[str, str]]) -> None:
    """A JSON list written item by item, so 100,000 devices never sit in memory at once."""
    out = sys.stdout
    out.write("[")
    first = True
    for item in items:
        out.write("\n  " if first else ",\n  ")
        out.write(json.dumps(item))  # ASCII, as emit_json: lossless in any code page
        first = False
    out.write("\n]\n" if not first else "]\n")


commands = [inventory]
