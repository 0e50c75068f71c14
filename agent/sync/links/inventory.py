"""The downloaded inventory files as the links manager reads them: a site's or a device's record,
every record of a kind, and what to say when the files are missing or damaged (R22)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from agent.errors import NotFoundError, PreconditionError
from config.loader import Settings
from dbsys import inventory as inventory_index

KIND_WORD = {"sites": "site", "devices": "device"}


class InventoryNotDownloaded(PreconditionError):
    """R22: the .cmt files are not there yet."""

    code = "NoInventory"


def missing_inventory_message(path: Path) -> str:
    folder = path.parent
    return (f"The Continuum sites and devices have not been downloaded yet ({path.name} is not in {folder}). "
            "Check that the zenithlink service is running ('zenithlink status'), that the PSG in the INI is "
            "right, and that the agent is activated in Continuum (activation can take up to 24 hours); then "
            "run 'zenithlink inventory refresh'. Why a download failed is written to the error reports in "
            f"{folder / 'ZenithErrors'} ('zenithlink errors list').")


def missing_inventory_web(path: Path) -> str:
    return ("The Continuum sites and devices have not been downloaded yet. The agent downloads them when it "
            "runs and is activated in Continuum (activation can take up to 24 hours); the Status page says when "
            "the last inventory refresh ran, and its error reports say why a download failed.")


def damaged_web(damage: str) -> str:
    return (f"The inventory file {damage}. The next inventory refresh downloads it again; the Status page says "
            "when the last one ran and what failed.")


class Inventory:
    """The inventory files named by ``settings``."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def require(self, kind: str) -> Path:
        """The file of ``kind`` ("sites" or "devices"); R22 when it is not downloaded."""
        path = inventory_index.inventory_path(self.settings, kind)
        if not path.is_file():
            raise InventoryNotDownloaded(missing_inventory_message(path), web_message=missing_inventory_web(path))
        return path

    def require_sound(self, kind: str) -> None:
        """R22, or a damaged file: what a search of the index must hear first."""
        self.require(kind)
        damage = inventory_index.problem(self.settings, kind)
        if damage:
            raise PreconditionError(f"The inventory file {damage}. Run 'zenithlink inventory refresh' "
                                    "to download it again.", web_message=damaged_web(damage))

    def records(self, kind: str) -> Iterator[dict[str, str]]:
        """Every record of ``kind``, in the file's order."""
        from dbsys import cmt

        path = self.require(kind)
        try:
            yield from cmt.read_inventory(path, kind)  # type: ignore[arg-type]
        except cmt.MissingInventory:
            raise InventoryNotDownloaded(missing_inventory_message(path),
                                         web_message=missing_inventory_web(path)) from None
        except (ValueError, OSError) as exc:
            raise PreconditionError(f"The inventory file {path.name} cannot be read ({exc}). Run "
                                    "'zenithlink inventory refresh' to download it again.",
                                    web_message=damaged_web(f"{path.name} cannot be read ({exc})")) from None

    def site(self, site_code: str) -> dict[str, str]:
        """The site's record; R22 when not downloaded, ``NotFoundError`` if unknown."""
        return self.record("sites", site_code)

    def device(self, device_id: str) -> dict[str, str]:
        """The device's record; R22 when not downloaded, ``NotFoundError`` if unknown."""
        return self.record("devices", device_id)

    def record(self, kind: str, key: str) -> dict[str, str]:
        self.require(kind)
        look_up = inventory_index.site_record if kind == "sites" else inventory_index.device_record
        record = look_up(self.settings, key)
        if record is None:
            damage = inventory_index.problem(self.settings, kind)
            if damage:
                raise PreconditionError(f"The inventory file {damage}. Run 'zenithlink inventory refresh' "
                                        "to download it again.", web_message=damaged_web(damage))
            word = KIND_WORD[kind]
            raise NotFoundError(
                f"there is no {word} {key!r} in the downloaded inventory; 'zenithlink links {kind}' lists "
                f"them. If the {word} is new in Continuum, run 'zenithlink inventory refresh' first.",
                web_message=f"there is no {word} {key!r} in the downloaded inventory: pick one from the "
                            f"{kind.capitalize()} page. A {word} new in Continuum appears after the next inventory "
                            "refresh (the Status page says when the last one ran).")
        return record


def fold(text: str) -> str:
    """``text`` as searches compare it (case and accents ignored)."""
    return inventory_index.fold(text)
