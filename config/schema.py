"""Every INI key, declared once: section, key, type, default, help.

The loader, the shipped template, ``check-config`` and the INI reference in the docs are all
generated from :data:`SCHEMA`, so they cannot drift apart.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

TRUE_WORDS = {"y", "yes", "true", "1", "on"}
FALSE_WORDS = {"n", "no", "false", "0", "off"}
LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")


class BadValue(ValueError):
    """A value does not fit its key; the message says what is allowed."""


@dataclass(frozen=True)
class Key:
    section: str
    name: str
    attr: str
    kind: str  # str | secret | url | bool | int | float | choice | path | paths | listen
    default: Any
    help: str
    minimum: float | None = None
    maximum: float | None = None
    choices: tuple[str, ...] = ()
    shown_default: str = ""  # how the default reads in docs when it is derived

    @property
    def secret(self) -> bool:
        return self.kind == "secret"

    def allowed(self) -> str:
        if self.kind == "bool":
            return "Y or N (also Yes/No, True/False, 1/0, On/Off)"
        if self.kind in ("int", "float"):
            unit = "a whole number" if self.kind == "int" else "a number"
            return f"{unit} from {self.minimum:g} to {self.maximum:g}"
        if self.kind == "choice":
            return "one of " + ", ".join(self.choices)
        if self.kind == "url":
            return "an http:// or https:// URL with a host name"
        if self.kind == "paths":
            return "folder paths separated by ';'"
        if self.kind == "listen":
            return "HOST:PORT, e.g. 127.0.0.1:8470 (an IPv6 host in brackets: [::1]:8470)"
        return "text"

    def parse(self, raw: str) -> Any:
        return PARSERS[self.kind](self, raw.strip())


def _bool(key: Key, raw: str) -> bool:
    word = raw.lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise BadValue(key.allowed())


def _number(key: Key, raw: str) -> float | int:
    try:
        value = int(raw) if key.kind == "int" else float(raw)
    except ValueError:
        raise BadValue(key.allowed()) from None
    if (key.minimum is not None and value < key.minimum) or (key.maximum is not None and value > key.maximum):
        raise BadValue(key.allowed())
    return value


def _choice(key: Key, raw: str) -> str:
    for choice in key.choices:
        if raw.lower() == choice.lower():
            return choice
    raise BadValue(key.allowed())


def _url(key: Key, raw: str) -> str:
    from urllib.parse import urlsplit

    parts = urlsplit(raw)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise BadValue(key.allowed())
    return raw.rstrip("/")


def _text(key: Key, raw: str) -> str:
    return raw


def _listen(key: Key, raw: str) -> str:
    host, sep, port = raw.rpartition(":")
    host = host.strip()
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    if not sep or not host or not port.isdigit() or not 1 <= int(port) <= 65535 or " " in host:
        raise BadValue(key.allowed())
    return raw


def _paths(key: Key, raw: str) -> list[str]:
    return [p.strip() for p in raw.split(";") if p.strip()]


PARSERS: dict[str, Callable[[Key, str], Any]] = {
    "str": _text, "secret": _text, "path": _text, "url": _url, "bool": _bool,
    "int": _number, "float": _number, "choice": _choice, "paths": _paths, "listen": _listen,
}

SCHEMA: tuple[Key, ...] = (
    Key("Continuum", "PSG", "psg", "secret", "",
        "Partner Security Code from the Continuum portal (a secret: never logged or echoed)",
        shown_default="(required, except in the demo)"),
    Key("Continuum", "ContinuumURL", "continuum_url", "url", "",
        "Base URL of the Continuum PSA API", shown_default="(required, except in the demo)"),
    Key("Continuum", "InstanceID", "instance_id", "str", "RMAZenithINFOTECHID1",
        "Suffix of the inventory file names in the Dbsys folder"),
    Key("Continuum", "ProcessContinuumUpdatesQueue", "process_queue", "bool", False,
        "Y: turn Continuum tickets into PSA tickets. N: inventory and links only (link sites first)"),
    Key("Continuum", "PollIntervalSeconds", "poll_interval_seconds", "int", 30,
        "Seconds between two polls of the Continuum change feed", minimum=1, maximum=3600),
    Key("Continuum", "InventoryRefreshMinutes", "inventory_refresh_minutes", "int", 60,
        "Minutes between two downloads of the sites and devices", minimum=1, maximum=10080),
    Key("Continuum", "RequestTimeoutSeconds", "request_timeout_seconds", "float", 30,
        "Total deadline of one HTTP request to Continuum, in seconds", minimum=1, maximum=600),
    Key("Continuum", "VerifyTLS", "verify_tls", "bool", True,
        "Verify the Continuum server's TLS certificate"),
    Key("Continuum", "Backend", "rmm_backend", "str", "continuum",
        "The RMM backend by name: continuum (built in), nsight (N-able N-sight RMM: set [Nsight] ServerURL and "
        "APIKey instead of PSG and ContinuumURL), ninjaone (NinjaOne: set [NinjaOne] URL, ClientID and "
        "ClientSecret), memory (nothing kept: tests only), or one a plugin offers (read at start-up)"),
    Key("Continuum", "ReconcileMinutes", "reconcile_minutes", "int", 60,
        "Minutes between two reconciliation passes of a snapshot RMM (N-sight, NinjaOne; with the ticket queue on): "
        "what is safe to fix is fixed, the rest goes to 'zenithlink status' and an error report",
        minimum=5, maximum=10080),
    Key("RangerMSP", "DbsysFolder", "dbsys_folder", "path", "Dbsys",
        "The Dbsys folder (relative paths are taken from the INI's folder)",
        shown_default="Dbsys beside the INI"),
    Key("RangerMSP", "RequestsFolder", "requests_folder", "path", "",
        "Folder where the PSA side drops requests", shown_default="<DbsysFolder>/ZenithRequests"),
    Key("RangerMSP", "Backend", "psa_backend", "str", "embedded",
        "The PSA backend by name: embedded (the PSA's records in the state store's file), rangermsp "
        "(RangerMSP's own database, through its DB API), rangermsp-simulator (the same over the "
        "project's simulator of the DB API), memory (nothing kept: tests only), or one a plugin "
        "offers (read at start-up)"),
    Key("RangerMSP", "RangerMSPFolder", "rangermsp_folder", "path", "",
        "The RangerMSP installation folder, which holds ThirdParty\\UserDev and Db (Backend=rangermsp)",
        shown_default="(required with Backend=rangermsp)"),
    Key("RangerMSP", "ApplicationName", "application_name", "str", "zenithlink",
        "The name RangerMSP shows as the author of every change zenithlink makes (3 to 15 characters)"),
    Key("RangerMSP", "ContinuumTicketField", "continuum_ticket_field", "str", "FLDTKTUSER1",
        "The ticket field that keeps the Continuum ticket id (must be unused on the installation)"),
    Key("RangerMSP", "DateFormat", "rangermsp_date_format", "str", "",
        "The date format zenithlink expects RangerMSP to use, in RangerMSP's own tokens (e.g. dd/mm/yyyy or "
        "mm/dd/yyyy); dates are always written in the installation's format (CmtGetSystemProperties), and "
        "when this is set and differs from it, the backend refuses to start",
        shown_default="(the installation's)"),
    Key("RangerMSP", "CodePage", "rangermsp_code_page", "str", "",
        "The code page of the text RangerMSP's DLLs take and give; leave it empty for the system's ANSI code "
        "page (what the DLLs use)", shown_default="(the system's ANSI code page)"),
    Key("RangerMSP", "NotAccountEntityKinds", "rangermsp_not_account_kinds", "str", "5,3",
        "FLDCRDENTITYKIND values of the records of RangerMSP's account table that are not accounts "
        "(5: contacts; 3: employees, unverified), separated by ','"),
    Key("RangerMSP", "NewTicketStatus", "rangermsp_new_ticket_status", "int", 100,
        "RangerMSP's status code of a new ticket (New); 'zenithlink psa probe' shows the installation's",
        minimum=1, maximum=99999),
    Key("RangerMSP", "NewAssetType", "rangermsp_new_asset_type", "str", "Other",
        "The asset type of an asset zenithlink creates (RangerMSP requires one)"),
    Key("RangerMSP", "NewAssetStatus", "rangermsp_new_asset_status", "str", "Active",
        "The status of an asset zenithlink creates (RangerMSP requires one)"),
    Key("RangerMSP", "Database", "database", "path", "",
        "The agent's state store (SQLite; also the embedded PSA's records)",
        shown_default="<DbsysFolder>/zenithlink.sqlite3"),
    Key("RangerMSP", "OwnBusinessAccount", "own_business_account", "str", "",
        "REC ID or exact name of the account for tickets without a site",
        shown_default="the first account created"),
    Key("RangerMSP", "DefaultTicketManager", "default_ticket_manager", "str", "",
        "Employee login used as ticket manager when the account has no manager",
        shown_default="(none)"),
    Key("RangerMSP", "AutoCreatedAccountPrefix", "auto_created_account_prefix", "str",
        "[Continuum AUTO CREATED]", "Name prefix of accounts created for unlinked sites"),
    Key("RangerMSP", "RequestScanSeconds", "request_scan_seconds", "int", 30,
        "Seconds between two full scans of the request folder (events can be missed)",
        minimum=1, maximum=3600),
    Key("Nsight", "ServerURL", "nsight_url", "str", "",
        "Address of your N-sight server, the SERVER of its Data Extraction API (e.g. https://www.system-monitor.com; "
        "Backend=nsight)", shown_default="(required with Backend=nsight)"),
    Key("Nsight", "APIKey", "nsight_api_key", "secret", "",
        "N-sight API key, made under Settings > General Settings > API (a secret: never logged or echoed; "
        "Backend=nsight)", shown_default="(required with Backend=nsight)"),
    Key("Nsight", "MinPollSeconds", "nsight_min_poll_seconds", "int", 90,
        "Seconds between two reads of N-sight's failing checks (N-able asks for at least 90)",
        minimum=90, maximum=86400),
    Key("Nsight", "CloseTicketOnRecovery", "nsight_close_on_recovery", "bool", False,
        "Y: a check that recovers completes its ticket, unless a person changed the ticket since the agent opened "
        "it. N: a note, and the ticket back into the Inbox"),
    Key("NinjaOne", "URL", "ninjaone_url", "str", "",
        "Your NinjaOne instance (e.g. https://app.ninjarmm.com, https://eu.ninjarmm.com; Backend=ninjaone)",
        shown_default="(required with Backend=ninjaone)"),
    Key("NinjaOne", "ClientID", "ninjaone_client_id", "str", "",
        "Client ID of a NinjaOne API client app with the client credentials grant (Backend=ninjaone)",
        shown_default="(required with Backend=ninjaone)"),
    Key("NinjaOne", "ClientSecret", "ninjaone_client_secret", "secret", "",
        "Its client secret (a secret: never logged or echoed; Backend=ninjaone)",
        shown_default="(required with Backend=ninjaone)"),
    Key("NinjaOne", "CloseTicketOnRecovery", "ninjaone_close_on_recovery", "bool", False,
        "Y: an alert that clears completes its ticket, unless a person changed the ticket since the agent opened "
        "it. N: a note, and the ticket back into the Inbox"),
    Key("Plugins", "PluginFolders", "plugin_folders", "paths", [],
        "Extra folders of *.py plugin files, separated by ';'", shown_default="(none)"),
    Key("Web", "Enabled", "web_enabled", "bool", False,
        "Y: 'zenithlink run' also serves the web console ('zenithlink web' serves it alone)"),
    Key("Web", "Listen", "web_listen", "listen", "127.0.0.1:8470",
        "Address and port of the web console; beyond loopback it needs CertFile and KeyFile"),
    Key("Web", "CertFile", "web_cert_file", "path", "",
        "TLS certificate (PEM) of the web console", shown_default="(none)"),
    Key("Web", "KeyFile", "web_key_file", "path", "",
        "TLS private key (PEM) of the web console", shown_default="(none)"),
    Key("Web", "AllowPlainHttpBeyondLoopback", "web_allow_plain_http", "bool", False,
        "Y: serve plain HTTP beyond loopback (only behind a proxy that adds TLS on the same machine)"),
    Key("Logging", "LogFolder", "log_folder", "path", "",
        "Folder of the rotating log files", shown_default="<DbsysFolder>/Logs"),
    Key("Logging", "Level", "level", "choice", "INFO",
        "Log level", choices=LEVELS),
)

SECTIONS: tuple[str, ...] = ("Continuum", "RangerMSP", "Nsight", "NinjaOne", "Plugins", "Web", "Logging")
PLUGIN_SECTION_PREFIX = "plugin:"


def key_for(section: str, name: str) -> Key | None:
    """The declared key, case-insensitively; ``None`` if unknown."""
    for key in SCHEMA:
        if key.section.lower() == section.lower() and key.name.lower() == name.lower():
            return key
    return None
