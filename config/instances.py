"""Extra RMM instances: ``[RMM:<name>]`` sections beside the primary RMM of ``[Continuum]``.

An MSP moving between RMMs runs two for a while. The sections of the INI that exist already
(``[Continuum]`` with its ``Backend=``, ``[Nsight]``, ``[NinjaOne]``) stay the *primary* RMM,
unchanged; every ``[RMM:<name>]`` section adds one more instance with its own ``Backend=``,
``InstanceID=`` (required, unique, part of its file names) and that backend's keys, the very
keys of the backend's own section in :data:`config.schema.SCHEMA`, so that they are validated,
suggested when misspelt and (secrets) redacted as those are.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field
from typing import Any

from config.schema import SCHEMA, BadValue, Key, key_for

INSTANCE_SECTION_PREFIX = "rmm:"
_INSTANCE_ID = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")

#: The schema section whose keys an instance of each built-in backend takes.
BACKEND_SECTIONS: dict[str, str] = {"continuum": "Continuum", "nsight": "Nsight", "ninjaone": "NinjaOne"}
#: What an instance of each built-in backend must set (a plugin's backend: nothing checked here).
REQUIRED_KEYS: dict[str, tuple[str, ...]] = {
    "continuum": ("PSG", "ContinuumURL"), "nsight": ("ServerURL", "APIKey"),
    "ninjaone": ("URL", "ClientID", "ClientSecret"), "memory": ()}
#: Keys of ``[Continuum]`` that concern one RMM's schedule and connection: an instance may set its
#: own, and takes the primary's when it does not.
SHARED_KEYS: tuple[str, ...] = ("PollIntervalSeconds", "InventoryRefreshMinutes", "RequestTimeoutSeconds",
                                "VerifyTLS", "ReconcileMinutes")
#: Keys only the primary has: the instance's ``InstanceID`` and ``Backend`` are read on their own.
_PRIMARY_ONLY = ("InstanceID", "Backend", "ProcessContinuumUpdatesQueue")


@dataclass(frozen=True)
class RmmInstance:
    """One ``[RMM:<name>]`` section, validated; ``values`` holds the typed values by schema attribute
    (the backend's keys, given or default, and the shared keys it sets itself)."""

    name: str
    backend: str
    instance_id: str
    values: dict[str, Any] = field(default_factory=dict)

    @property
    def section(self) -> str:
        return f"RMM:{self.name}"

    def secrets(self) -> list[str]:
        return [str(self.values[key.attr]) for key in instance_keys(self.backend)
                if key.secret and self.values.get(key.attr)]

    def overrides(self, primary: dict[str, Any]) -> dict[str, Any]:
        """The primary's values with this instance's put in: what the backend factory is handed."""
        values = dict(primary)
        for key in instance_keys(self.backend):
            values[key.attr] = self.values.get(key.attr, key.default)
        for key in _shared():
            if key.attr in self.values:
                values[key.attr] = self.values[key.attr]
        values["instance_id"] = self.instance_id
        values["rmm_backend"] = self.backend
        return values


def instance_keys(backend: str) -> list[Key]:
    """The schema keys of the backend's own section that an instance of it takes."""
    section = BACKEND_SECTIONS.get(backend.lower())
    if section is None:
        return []
    return [k for k in SCHEMA if k.section == section and k.name not in _PRIMARY_ONLY and k.name not in SHARED_KEYS]


def _shared() -> list[Key]:
    return [k for name in SHARED_KEYS if (k := key_for("Continuum", name)) is not None]


def is_instance_section(section: str) -> bool:
    return section.strip().lower().startswith(INSTANCE_SECTION_PREFIX)


def parse_instance(section: str, items: dict[str, str], *, required: bool,
                   problems: list[str], warnings: list[str]) -> RmmInstance | None:
    """The ``[RMM:<name>]`` section ``section`` with its ``items``; what is wrong goes to ``problems``."""
    name = section.strip()[len(INSTANCE_SECTION_PREFIX):].strip()
    where = f"[RMM:{name}]"
    if not name:
        problems.append(f"[{section}]: name the RMM instance after 'RMM:', e.g. [RMM:nsight]")
        return None
    given = {k.lower(): (k, v.strip()) for k, v in items.items()}
    backend = given.pop("backend", ("Backend", ""))[1].lower()
    instance_id = given.pop("instanceid", ("InstanceID", ""))[1]
    if not backend:
        problems.append(f"{where} Backend is missing, and is required: the RMM backend of this instance "
                        f"({', '.join(sorted(REQUIRED_KEYS))}, or one a plugin offers)")
    if not instance_id:
        problems.append(f"{where} InstanceID is missing, and is required: the suffix of this RMM's inventory and "
                        "status file names, different from every other RMM's")
    elif not _INSTANCE_ID.match(instance_id):
        problems.append(f"{where} InstanceID = {instance_id!r}: use 1 to 64 letters, digits, '.', '_' or '-' "
                        "(it becomes part of file names)")
    keys = {k.name.lower(): k for k in instance_keys(backend)} | {k.name.lower(): k for k in _shared()}
    values: dict[str, Any] = {}
    for lowered, (written, raw) in given.items():
        key = keys.get(lowered)
        if key is None:
            if backend in REQUIRED_KEYS or backend in BACKEND_SECTIONS:
                warnings.append(f"unknown key {where} {written} is ignored{_hint(written, list(keys.values()))}")
            continue
        if raw == "" and key.kind not in ("str", "secret", "path"):
            continue
        try:
            values[key.attr] = key.parse(raw)
        except BadValue as exc:
            shown = "(hidden)" if key.secret else repr(raw)
            problems.append(f"{where} {key.name} = {shown}: must be {exc}")
    for key in instance_keys(backend):
        values.setdefault(key.attr, key.default)
    if required:
        for needed in REQUIRED_KEYS.get(backend, ()):
            key = keys[needed.lower()]
            if not values.get(key.attr) and not any(p.startswith(f"{where} {key.name} = ") for p in problems):
                problems.append(f"{where} {key.name} is missing, and is required with Backend={backend}: "
                                f"{key.help.split(' (')[0]}")
    return RmmInstance(name=name, backend=backend, instance_id=instance_id, values=values)


def check_unique(primary_id: str, instances: list[RmmInstance], problems: list[str]) -> None:
    """Every RMM's InstanceID (and section name) once, ignoring case: the file names must differ on Windows too."""
    seen: dict[str, str] = {primary_id.lower(): "[Continuum]"} if primary_id else {}
    names: set[str] = set()
    for instance in instances:
        if instance.name.lower() in names:
            problems.append(f"[{instance.section}] is written twice: give each RMM instance a name of its own")
        names.add(instance.name.lower())
        if not instance.instance_id:
            continue
        other = seen.get(instance.instance_id.lower())
        if other is not None:
            problems.append(f"[{instance.section}] InstanceID = {instance.instance_id!r} is the InstanceID of {other} "
                            "too: each RMM needs its own (it names its inventory and status files)")
        else:
            seen[instance.instance_id.lower()] = f"[{instance.section}]"


def _hint(name: str, keys: list[Key]) -> str:
    lowered = {k.name.lower(): k.name for k in keys}
    match = difflib.get_close_matches(name.lower(), list(lowered), n=1, cutoff=0.6)
    return f" (did you mean {lowered[match[0]]}?)" if match else ""
