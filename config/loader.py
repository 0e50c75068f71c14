"""Reads and validates ``CmtZenithLink.ini``: every problem at once, the PSG never echoed.

Rules (see the INI reference): keys and section names are case-insensitive; a file with no
section header is read as ``[Continuum]``; ``%`` is an ordinary character; booleans take
Y/N, Yes/No, True/False, 1/0, On/Off; unknown keys are warnings naming the nearest known key.
"""

from __future__ import annotations

import codecs
import configparser
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from config.instances import RmmInstance, check_unique, is_instance_section, parse_instance
from config.schema import PLUGIN_SECTION_PREFIX, SCHEMA, SECTIONS, BadValue, Key, key_for
from dbsys import host

DEFAULT_FILENAME = "CmtZenithLink.ini"
REQUIRED_FOR_CONTINUUM = ("PSG", "ContinuumURL")
REQUIRED_BY_RMM_BACKEND = {"nsight": ("ServerURL", "APIKey"), "ninjaone": ("URL", "ClientID", "ClientSecret"),
                           "memory": ()}
"""What an RMM backend other than Continuum needs instead of ``REQUIRED_FOR_CONTINUUM``."""
_INSTANCE_ID = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
# %NAME% as Windows writes environment variables (%ProgramData%, %ProgramFiles(x86)%).
_ENV_VAR = re.compile(r"%([A-Za-z_][A-Za-z0-9_()]*)%")


class InvalidConfig(ValueError):
    """The INI has problems; ``problems`` lists every one of them."""

    def __init__(self, problems: list[str], path: Path | None) -> None:
        self.problems = problems
        self.path = path
        super().__init__("\n".join(problems))


class SettingValues:
    """One attribute per key of :data:`config.schema.SCHEMA`, as the loader leaves it (paths
    resolved), so that a misspelt setting fails type checking. ``tests/test_config_typed.py``
    checks that these declarations and SCHEMA name the same keys with matching types."""

    psg: str
    continuum_url: str
    instance_id: str
    process_queue: bool
    poll_interval_seconds: int
    inventory_refresh_minutes: int
    request_timeout_seconds: float
    verify_tls: bool
    rmm_backend: str
    reconcile_minutes: int
    dbsys_folder: Path
    requests_folder: Path
    psa_backend: str
    rangermsp_folder: Path | None
    application_name: str
    continuum_ticket_field: str
    rangermsp_date_format: str
    rangermsp_code_page: str
    rangermsp_not_account_kinds: str
    rangermsp_new_ticket_status: int
    rangermsp_new_asset_type: str
    rangermsp_new_asset_status: str
    database: Path
    own_business_account: str
    default_ticket_manager: str
    auto_created_account_prefix: str
    request_scan_seconds: int
    nsight_url: str
    nsight_api_key: str
    nsight_min_poll_seconds: int
    nsight_close_on_recovery: bool
    ninjaone_url: str
    ninjaone_client_id: str
    ninjaone_client_secret: str
    ninjaone_close_on_recovery: bool
    plugin_folders: list[Path]
    web_enabled: bool
    web_listen: str
    web_cert_file: Path | None
    web_key_file: Path | None
    web_allow_plain_http: bool
    log_folder: Path
    level: str


@dataclass
class Settings(SettingValues):
    """The validated configuration: each key of :data:`config.schema.SCHEMA` an attribute (declared
    on :class:`SettingValues`), ``values`` the same by attribute name."""

    path: Path | None
    values: dict[str, Any]
    plugins_enabled: dict[str, bool] = field(default_factory=dict)
    plugin_sections: dict[str, dict[str, str]] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    #: The extra RMMs of ``[RMM:<name>]`` sections, beside the primary one of ``[Continuum]``.
    rmm_instances: list[RmmInstance] = field(default_factory=list)
    #: ``""`` for the primary RMM's settings; the InstanceID of an extra RMM for the settings
    #: :meth:`for_instance` derives (the prefix of that RMM's identifiers in the shared store).
    rmm_namespace: str = ""

    def __post_init__(self) -> None:
        for key in SCHEMA:
            setattr(self, key.attr, self.values[key.attr])

    @property
    def base_dir(self) -> Path:
        return self.path.parent if self.path else Path.cwd()

    def plugin_enabled(self, name: str, default: bool) -> bool:
        return self.plugins_enabled.get(name.lower(), default)

    def plugin_settings(self, name: str) -> dict[str, str]:
        """The ``[plugin:<name>]`` section, keys lower-cased; empty when absent."""
        return dict(self.plugin_sections.get(name.lower(), {}))

    @property
    def has_continuum(self) -> bool:
        return bool(self.psg and self.continuum_url)

    def for_instance(self, instance: RmmInstance) -> Settings:
        """These settings as an extra RMM's engines and backend see them: its InstanceID, Backend and
        keys in place of the primary's, everything else (the PSA, the folders) shared."""
        return Settings(path=self.path, values=instance.overrides(self.values), plugins_enabled=self.plugins_enabled,
                        plugin_sections=self.plugin_sections, warnings=[], rmm_namespace=instance.instance_id)

    def instance(self, instance_id: str) -> RmmInstance:
        """The extra RMM of that InstanceID (any case); ``KeyError`` when there is none."""
        for instance in self.rmm_instances:
            if instance.instance_id.lower() == instance_id.lower():
                return instance
        raise KeyError(instance_id)

    def differences(self, other: Settings) -> list[str]:
        """``[Section] Key`` of every setting that differs from ``other``, compared by value (a
        changed PSG counts, though it is never shown), plugin switches and sections included."""
        changed = [f"[{key.section}] {key.name}" for key in SCHEMA
                   if self.values[key.attr] != other.values[key.attr]]
        for name in sorted(set(self.plugins_enabled) | set(other.plugins_enabled)):
            if self.plugins_enabled.get(name) != other.plugins_enabled.get(name):
                changed.append(f"[Plugins] {name}")
        for name in sorted(set(self.plugin_sections) | set(other.plugin_sections)):
            if self.plugin_sections.get(name) != other.plugin_sections.get(name):
                changed.append(f"[plugin:{name}]")
        mine = {i.section.lower(): i for i in self.rmm_instances}
        theirs = {i.section.lower(): i for i in other.rmm_instances}
        for name in sorted(set(mine) | set(theirs)):
            if mine.get(name) != theirs.get(name):
                changed.append(f"[{(mine.get(name) or theirs[name]).section}]")
        return changed

    def summary(self) -> list[tuple[str, str, str]]:
        """(section, key, effective value) for display; the PSG only as set / not set."""
        rows = []
        for key in SCHEMA:
            value = self.values[key.attr]
            if key.secret:
                shown = "(set)" if value else "(not set)"
            elif isinstance(value, bool):
                shown = "Y" if value else "N"
            elif isinstance(value, list):
                shown = ";".join(str(v) for v in value)
            elif value is None:
                shown = ""
            else:
                shown = str(value)
            rows.append((key.section, key.name, shown))
        for name, enabled in sorted(self.plugins_enabled.items()):
            rows.append(("Plugins", name, "Y" if enabled else "N"))
        for instance in self.rmm_instances:
            rows += [(instance.section, "Backend", instance.backend),
                     (instance.section, "InstanceID", instance.instance_id)]
            for key in SCHEMA:
                if key.attr in instance.values:
                    value = instance.values[key.attr]
                    shown = ("(set)" if value else "(not set)") if key.secret else (
                        ("Y" if value else "N") if isinstance(value, bool) else str(value))
                    rows.append((instance.section, key.name, shown))
        return rows


def default_config_path() -> Path:
    import os

    env = os.environ.get("ZENITHLINK_CONFIG")
    return Path(env) if env else Path.cwd() / DEFAULT_FILENAME


def load_settings(path: Path | str, *, require: Iterable[str] = ()) -> Settings:
    """Load and validate the INI at ``path``; raise :class:`InvalidConfig` listing every problem."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise InvalidConfig(
            [f"no configuration file at {path}: create one with 'zenithlink init {path}' "
             "or name another with --config / ZENITHLINK_CONFIG"], path) from None
    except OSError as exc:
        raise InvalidConfig([f"cannot read {path}: {exc.strerror}"], path) from None
    text, warning = decode_ini(data, path)
    settings = parse_settings(text, base_dir=path.parent.resolve(), path=path, require=require)
    if warning:
        settings.warnings.insert(0, warning)
    return settings


def decode_ini(data: bytes, path: Path) -> tuple[str, str | None]:
    """The INI's text, and a warning when it was not UTF-8.

    UTF-8 with or without a BOM; UTF-16 with a BOM (Notepad's "Unicode"); else the system's ANSI
    code page, which Notepad on older Windows Servers saves by default.
    """
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            return data.decode("utf-16"), None
        except UnicodeDecodeError as exc:
            raise InvalidConfig([f"{path} starts like UTF-16 text but is not ({exc.reason}); save it as UTF-8"],
                                path) from None
    try:
        return data.decode("utf-8-sig"), None
    except UnicodeDecodeError:
        pass
    encoding = host.ansi_encoding()
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError as exc:
        raise InvalidConfig([f"{path} is neither UTF-8 nor {encoding} text ({exc.reason}); save it as UTF-8"],
                            path) from None
    return text, (f"{path.name} is not UTF-8: it was read as {encoding}, the ANSI code page here. Save it as "
                  "UTF-8 (in Notepad: File, Save As, Encoding UTF-8) so that it reads the same on every server")


def parse_settings(text: str, *, base_dir: Path, path: Path | None = None,
                   require: Iterable[str] = ()) -> Settings:
    """Validate INI text; relative paths are taken from ``base_dir``."""
    # Keys keep the case they were written in, so that a message shows them as the person wrote
    # them; they are matched case-insensitively.
    parser = configparser.ConfigParser(interpolation=None, strict=False, default_section="\x00none")
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    headed = _with_legacy_header(text)
    offset = 1 if headed is not text else 0  # the line added before a legacy file's first key
    try:
        parser.read_string(headed)
    except configparser.Error as exc:
        raise InvalidConfig(_unreadable(exc, offset) + [f"also: {w}" for w in _duplicates(text)], path) from None

    problems: list[str] = []
    warnings: list[str] = _duplicates(text)
    raw: dict[tuple[str, str], str] = {}
    plugins_enabled: dict[str, bool] = {}
    plugin_sections: dict[str, dict[str, str]] = {}
    instances: list[RmmInstance] = []
    require = tuple(require)

    for section in parser.sections():
        canonical = _canonical_section(section)
        items = dict(parser.items(section))
        if canonical is None and is_instance_section(section):
            instance = parse_instance(section, items, required=bool(require), problems=problems, warnings=warnings)
            if instance is not None:
                instances.append(instance)
            continue
        if canonical is None and section.lower().startswith(PLUGIN_SECTION_PREFIX):
            name = section[len(PLUGIN_SECTION_PREFIX):].strip().lower()
            plugin_sections.setdefault(name, {}).update({k.lower(): v for k, v in items.items()})
            continue
        if canonical is None:
            hint = _nearest(section, list(SECTIONS))
            warnings.append(f"unknown section [{section}] is ignored{hint}")
            continue
        for name, value in items.items():
            key = key_for(canonical, name)
            if key is not None:
                raw[(key.section, key.name)] = value
            elif canonical == "Plugins":
                try:
                    plugins_enabled[name.lower()] = _parse_switch(value)
                except BadValue as exc:
                    problems.append(f"[Plugins] {name} = {value!r}: {exc} to enable or disable that plugin"
                                    f"{_key_hint(canonical, name)}")
            else:
                warnings.append(f"unknown key [{canonical}] {name} is ignored{_key_hint(canonical, name)}")

    values = _typed_values(raw, problems)
    _check_required(values, _for_rmm_backend(values, require), problems)
    if values["instance_id"] and not _INSTANCE_ID.match(values["instance_id"]):
        problems.append(f"[Continuum] InstanceID = {values['instance_id']!r}: use 1 to 64 letters, "
                        "digits, '.', '_' or '-' (it becomes part of file names)")
    check_unique(values["instance_id"], instances, problems)
    if problems:
        # What would only be a warning is shown too: a misspelt key is often the cause of the error.
        raise InvalidConfig(problems + [f"also: {w}" for w in warnings], path)
    _resolve_paths(values, base_dir, warnings)
    return Settings(path=path, values=values, plugins_enabled=plugins_enabled,
                    plugin_sections=plugin_sections, warnings=warnings, rmm_instances=instances)


def _with_legacy_header(text: str) -> str:
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped or stripped[0] in "#;":
            continue
        return text if stripped.startswith("[") else "[Continuum]\n" + text
    return text


def _canonical_section(section: str) -> str | None:
    for known in SECTIONS:
        if known.lower() == section.strip().lower():
            return known
    return None


def _nearest(word: str, candidates: list[str]) -> str:
    import difflib  # only a misspelt name needs it, not every command's start

    lowered = {c.lower(): c for c in candidates}
    match = difflib.get_close_matches(word.lower(), list(lowered), n=1, cutoff=0.6)
    return f" (did you mean {lowered[match[0]]}?)" if match else ""


def _key_hint(section: str, name: str) -> str:
    """What an unknown key probably is: a key of another section (it belongs there), a misspelt
    key of its own section, else a misspelt key of another section."""
    elsewhere = [k for k in SCHEMA if k.name.lower() == name.lower() and k.section != section]
    if elsewhere:
        return f": {elsewhere[0].name} belongs in [{elsewhere[0].section}], move it there"
    own = _nearest(name, [k.name for k in SCHEMA if k.section == section])
    if own:
        return own
    import difflib

    lowered = {k.name.lower(): k for k in SCHEMA}
    match = difflib.get_close_matches(name.lower(), list(lowered), n=1, cutoff=0.6)
    return f" (did you mean [{lowered[match[0]].section}] {lowered[match[0]].name}?)" if match else ""


def _parse_switch(value: str) -> bool:
    return Key("Plugins", "x", "x", "bool", False, "").parse(value)


def _typed_values(raw: dict[tuple[str, str], str], problems: list[str]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for key in SCHEMA:
        given = raw.get((key.section, key.name))
        if given is None or (given.strip() == "" and key.kind not in ("str", "secret", "path")):
            values[key.attr] = key.default
            continue
        try:
            values[key.attr] = key.parse(given)
        except BadValue as exc:
            shown = "(hidden)" if key.secret else repr(given.strip())
            problems.append(f"[{key.section}] {key.name} = {shown}: must be {exc}")
            values[key.attr] = key.default
    return values


def _for_rmm_backend(values: dict[str, Any], require: tuple[str, ...]) -> tuple[str, ...]:
    """``require`` with Continuum's keys swapped for those of the RMM backend the INI names."""
    instead = REQUIRED_BY_RMM_BACKEND.get(str(values.get("rmm_backend") or "").lower())
    if instead is None or not set(REQUIRED_FOR_CONTINUUM) <= set(require):
        return require
    return tuple(name for name in require if name not in REQUIRED_FOR_CONTINUUM) + instead


def _check_required(values: dict[str, Any], require: Iterable[str], problems: list[str]) -> None:
    for name in require:
        key = key_for("Continuum", name) or next(k for k in SCHEMA if k.name == name)
        already = f"[{key.section}] {key.name} = "
        if not values.get(key.attr) and not any(p.startswith(already) for p in problems):
            problems.append(f"[{key.section}] {key.name} is missing, and is required: {key.help.split(' (')[0]}")


def _resolve_paths(values: dict[str, Any], base_dir: Path, warnings: list[str]) -> None:
    def resolve(p: str | Path, attr: str) -> Path:
        p = Path(_expand_variables(str(p), attr, warnings)).expanduser()
        return p if p.is_absolute() else (base_dir / p)

    dbsys = resolve(values["dbsys_folder"] or "Dbsys", "dbsys_folder")
    values["dbsys_folder"] = dbsys
    values["requests_folder"] = (resolve(values["requests_folder"], "requests_folder") if values["requests_folder"]
                                 else dbsys / "ZenithRequests")
    values["database"] = resolve(values["database"], "database") if values["database"] else dbsys / "zenithlink.sqlite3"
    values["log_folder"] = resolve(values["log_folder"], "log_folder") if values["log_folder"] else dbsys / "Logs"
    values["plugin_folders"] = [resolve(p, "plugin_folders") for p in values["plugin_folders"]]
    values["rangermsp_folder"] = (resolve(values["rangermsp_folder"], "rangermsp_folder")
                                  if values["rangermsp_folder"] else None)
    for attr in ("web_cert_file", "web_key_file"):
        values[attr] = resolve(values[attr], attr) if values[attr] else None


def _expand_variables(text: str, attr: str, warnings: list[str]) -> str:
    """``%NAME%`` replaced by the environment variable NAME; an unset one stays as written."""

    def value(match: re.Match[str]) -> str:
        found = os.environ.get(match.group(1))
        if found is None:
            key = next(k for k in SCHEMA if k.attr == attr)
            warnings.append(f"[{key.section}] {key.name}: the environment variable {match.group(1)} is not set, "
                            f"so {match.group(0)} stays in the path as written")
            return match.group(0)
        return found

    return _ENV_VAR.sub(value, text)


def _unreadable(exc: configparser.Error, offset: int) -> list[str]:
    """Every line the INI parser could not read, by its line number in the file."""
    if isinstance(exc, configparser.ParsingError) and not isinstance(exc, configparser.MissingSectionHeaderError):
        return [f"line {lineno - offset}: {_unrepr(line).strip()!r} is neither a [Section] header nor a Key=Value line "
                "(comments start with ; or #)" for lineno, line in exc.errors]
    lineno = getattr(exc, "lineno", None)
    where = f"line {lineno - offset}: " if lineno else ""
    return [f"{where}the file cannot be read as an INI file: {str(exc).splitlines()[0]}"]


def _unrepr(text: str) -> str:
    """configparser keeps a bad line as its ``repr``."""
    import ast

    try:
        value = ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text
    return value if isinstance(value, str) else text


def _duplicates(text: str) -> list[str]:
    """A key written twice in one section: the last one counts, which is easy to miss."""
    seen: dict[tuple[str, str], int] = {}
    warnings = []
    section = "Continuum"  # a legacy file's keys before any header
    for lineno, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if not stripped or stripped[0] in "#;":
            continue
        if stripped.startswith("[") and stripped.endswith("]"):
            section = stripped[1:-1].strip()
            continue
        name = stripped.split("=", 1)[0].split(":", 1)[0].strip()
        if not name:
            continue
        where = (section.lower(), name.lower())
        if where in seen:
            warnings.append(f"[{section}] {name} is set twice (lines {seen[where]} and {lineno}): the one on line "
                            f"{lineno} counts; remove the other")
        seen[where] = lineno
    return warnings
