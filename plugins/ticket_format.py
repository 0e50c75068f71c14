"""Built-in description of a PSA ticket made from a Continuum ticket (R1, R6)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from agent.hookspecs import hookimpl

if TYPE_CHECKING:
    from agent.ports.rmm import Ticket
    from config.loader import Settings

DEFAULT_ENABLED = True
DEVICE_FIELDS = ("Name", "FriendlyName", "DeviceType", "Manufacturer", "Model", "SerialNumber",
                 "OperatingSystem", "IPAddress", "MACAddress", "LastSeen")


@hookimpl(trylast=True)
def zenith_ticket_description(ticket: Ticket, device: dict[str, str] | None, asset: str | None,
                              settings: Settings) -> str:
    parts = [ticket.title.strip()] if ticket.title else []
    if ticket.description and ticket.description.strip() != (ticket.title or "").strip():
        parts.append(ticket.description.strip())
    parts.append(f"Continuum ticket {ticket.ticket_id} "
                 f"({ticket.priority or 'no priority'}, {ticket.source or 'unknown source'})")
    if ticket.device_id and not asset:
        parts.append(device_details(ticket.device_id, device))
    return "\n\n".join(parts)


def device_details(device_id: str, device: dict[str, str] | None) -> str:
    """The device block added when no asset is linked."""
    lines = [f"Continuum device {device_id} (not linked to an asset):"]
    if device:
        lines += [f"  {field}: {device[field]}" for field in DEVICE_FIELDS if device.get(field)]
    else:
        lines.append("  (not in the downloaded inventory yet)")
    return "\n".join(lines)
