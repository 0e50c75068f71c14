"""The shipped INI template and the INI reference, both rendered from the schema."""

from __future__ import annotations

from pathlib import Path

from config.schema import SCHEMA, SECTIONS, Key
from dbsys import host

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
        "; and the last good configuration stays in force. Reference: zenithlink check-config --reference",
        "; Paths may name environment variables, e.g. %ProgramData%\\zenithlink\\Dbsys; a relative",
        "; path is taken from the folder of this file. Save the file as UTF-8 (ANSI is read too).",
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
              ";[plugin:notify_email]", ";SMTPHost=mail.example.com",
              "", "; A second RMM beside the one above (moving between RMMs) is a section of its own, with its",
              "; own InstanceID and its backend's keys ('zenithlink docs multiple-rmms'), e.g.:",
              ";[RMM:nsight]", ";Backend=nsight", ";InstanceID=NSIGHT1", ";ServerURL=https://www.system-monitor.com",
              ";APIKey=", ""]
    return "\n".join(lines)


def template_bytes() -> bytes:
    """The template as ``zenithlink init`` writes it: UTF-8 with this platform's line endings (CRLF
    on Windows, where Notepad on older servers shows a file of bare LF line ends as one line)."""
    return host.with_line_endings(render_template().encode("utf-8"))


def render_reference() -> str:
    """The INI reference (Markdown table), generated so that it cannot drift from the schema."""
    out = ["# CmtZenithLink.ini reference", "",
           "Generated from `config/schema.py` (`zenithlink check-config --reference`).", "",
           "Path keys may name environment variables as `%NAME%` (e.g. `%ProgramData%\\zenithlink\\Dbsys`); "
           "an unset one stays as written, with a warning. A relative path is taken from the INI's folder. "
           "The file is read as UTF-8 (with or without a BOM), UTF-16 with a BOM, or else in the system's "
           "ANSI code page (Notepad's default on older Windows Servers), with a warning.", "",
           "| section | key | default | allowed | meaning |", "|---|---|---|---|---|"]
    for key in SCHEMA:
        default = key.shown_default or (_default_text(key) or "(empty)")
        out.append(f"| {key.section} | `{key.name}` | {default} | {key.allowed()} | {key.help} |")
    out.append("| Plugins | `<plugin name>` | each plugin's own default | Y or N "
               "| enable or disable a plugin, built-in or installed |")
    out.append("| plugin:`<name>` | any | — | see the plugin | settings of that plugin |")
    out += _instance_rows()
    return "\n".join(out) + "\n"


def _instance_rows() -> list[str]:
    """The keys of an ``[RMM:<name>]`` section: an extra RMM beside the primary one (docs/multiple-rmms.md)."""
    from config.instances import BACKEND_SECTIONS, REQUIRED_KEYS, SHARED_KEYS

    backends = ", ".join(sorted(REQUIRED_KEYS))
    rows = [f"| RMM:`<name>` | `Backend` | (required) | text | The RMM backend of this extra RMM instance: {backends} "
            "or one a plugin offers (docs/multiple-rmms.md) |",
            "| RMM:`<name>` | `InstanceID` | (required) | 1 to 64 letters, digits, '.', '_' or '-' | Suffix of this "
            "RMM's inventory and status file names and prefix of its identifiers in the store; different from every "
            "other RMM's InstanceID, case ignored |"]
    for backend, section in BACKEND_SECTIONS.items():
        needed = ", ".join(f"`{k}`" for k in REQUIRED_KEYS[backend])
        rows.append(f"| RMM:`<name>` | the keys of [{section}] | as in [{section}] | as in [{section}] | With "
                    f"Backend={backend}: {needed} (required) and the other keys of [{section}], not taken from it |")
    shared = ", ".join(f"`{k}`" for k in SHARED_KEYS)
    rows.append(f"| RMM:`<name>` | {shared} | the value in [Continuum] | as in [Continuum] | This RMM's own "
                "schedule and connection; unset, the primary's |")
    return rows
