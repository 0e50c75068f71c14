"""The shipped INI template and the INI reference, both rendered from the schema."""

from __future__ import annotations

from pathlib import Path

from config.schema import SCHEMA, SECTIONS, Key

TEMPLATE_PATH = Path(__file__).with_name("CmtZenithLink.ini")


def _default_text(key: Key) -> str:
    if key.kind == "bool":
        return "Y" if key.default else "N"
    if isinstance(key.default, list):
        return ";".join(key.default)
    return str(key.default)


def render_template() -> str:
    """The INI template: every key with its default and a one-line comment."""
    lines = [
        "; CmtZenithLink.ini - configuration of the zenithlink agent.",
        "; Keys are case-insensitive. Booleans: Y/N, Yes/No, True/False, 1/0, On/Off.",
        "; The agent re-reads this file within seconds of a change; an invalid change is refused",
        "; and the last good configuration stays in force. Reference: docs/ini-reference.md",
    ]
    for section in SECTIONS:
        lines += ["", f"[{section}]"]
        for key in (k for k in SCHEMA if k.section == section):
            derived = f" Default: {key.shown_default}." if key.shown_default else ""
            lines.append(f"; {key.help}.{derived}")
            lines.append(f"{key.name}={_default_text(key)}")
        if section == "Plugins":
            lines += ["; Enable (Y) or disable (N) any plugin by name, built-in or installed, e.g.:",
                      ";notify_email=Y"]
    lines += ["", "; Settings of one plugin go in a section of its own, e.g.:",
              ";[plugin:notify_email]", ";SMTPHost=mail.example.com", ""]
    return "\n".join(lines)


def render_reference() -> str:
    """The INI reference (Markdown table), generated so that it cannot drift from the schema."""
    out = ["# CmtZenithLink.ini reference", "",
           "Generated from `config/schema.py` (`zenithlink check-config --reference`).", "",
           "| section | key | default | allowed | meaning |", "|---|---|---|---|---|"]
    for key in SCHEMA:
        default = key.shown_default or (_default_text(key) or "(empty)")
        out.append(f"| {key.section} | `{key.name}` | {default} | {key.allowed()} | {key.help} |")
    out.append("| Plugins | `<plugin name>` | each plugin's own default | Y or N "
               "| enable or disable a plugin, built-in or installed |")
    out.append("| plugin:`<name>` | any | — | see the plugin | settings of that plugin |")
    return "\n".join(out) + "\n"
