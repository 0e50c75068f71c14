"""Request drops: the ``*.xml`` files the PSA side leaves in ``ZenithRequests/``.

This module only reads, validates and moves files; claiming a request exactly once (D3)
is the agent's job, keyed on :attr:`Request.id` and :attr:`Request.content_hash`. Which actions
a drop may ask for, and their children, is the caller's table (:data:`Table`): the ticket
actions are the agent's outbound registry's (``agent.sync.outbound.registry.drop_specs``), the
link actions are :data:`LINK_ACTIONS` here.
"""

from __future__ import annotations

import errno
import hashlib
import os
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from lxml import etree

from dbsys import fsops, safexml
from dbsys.atomic import fsync_folder, is_temp_name
from dbsys.devicenames import is_reserved

MAX_BYTES = 1024 * 1024
ROOT_TAG = "ZenithRequest"
ID_RE = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


@dataclass(frozen=True)
class ActionSpec:
    """The children of one action's drop; ``assign_to``: the values its ``<AssignTo>`` may take."""

    required: tuple[str, ...]
    optional: tuple[str, ...] = ()
    assign_to: tuple[str, ...] = ()

    @property
    def allowed(self) -> tuple[str, ...]:
        return self.required + self.optional


Table = Mapping[str, ActionSpec]
"""The actions a drop may ask for, by name, in the order a message lists them."""

LINK_ACTIONS: dict[str, ActionSpec] = {
    "LinkSite": ActionSpec(("SiteCode", "AccountRecID")),
    "UnlinkSite": ActionSpec(("SiteCode",)),
    "UnlinkAccount": ActionSpec(("AccountRecID",)),
    "CreateAccountFromSite": ActionSpec(("SiteCode",)),
    "LinkDevice": ActionSpec(("DeviceID", "AssetRecID")),
    "UnlinkDevice": ActionSpec(("DeviceID",)),
    "CreateAssetFromDevice": ActionSpec(("DeviceID",), ("AccountRecID",)),
}

ERROR_CODES = ("Malformed", "Refused", "TooLarge", "Empty", "UnknownAction", "MissingField", "BadValue", "BadId",
               "Unprocessable")


class BadRequest(ValueError):
    """A drop that cannot be accepted; ``code`` is one of :data:`ERROR_CODES`.

    ``request_id`` is the file's ``id`` when one could be read, else ``None`` (the result
    is then named after the file).
    """

    def __init__(self, code: str, message: str, request_id: str | None = None, action: str = "", *,
                 ends_early: bool = False) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.request_id = request_id
        self.action = action  # when the drop named a known one: its result says which request failed
        #: The drop is empty or stops before its end (premature end of data): its writer may
        #: still add the rest. XML that is wrong before its end can never be mended so.
        self.ends_early = ends_early


@dataclass(frozen=True)
class Request:
    id: str
    action: str
    user: str
    fields: dict[str, str] = field(default_factory=dict)
    content_hash: str = ""
    filename: str = ""


def parse_request(data: bytes, filename: str, table: Table, max_bytes: int = MAX_BYTES) -> Request:
    """Validate one drop against the actions of ``table`` and return it as a :class:`Request`;
    raise :class:`BadRequest`."""
    if len(data) > max_bytes:
        raise BadRequest("TooLarge", f"{filename} is {len(data)} bytes; a request may be at most "
                         f"{max_bytes} bytes. Keep notes short and drop a smaller file.")
    if not data.strip():
        raise BadRequest("Empty", f"{filename} is empty. Write a <{ROOT_TAG}> element into it, and "
                         f"write to a .tmp name first, then rename it to .xml.", ends_early=True)
    root = _parse(data, filename)
    request_id = _read_id(root, filename)
    action = _read_action(root, filename, request_id, table)
    user = (root.get("user") or "").strip()
    try:
        if not user:
            raise BadRequest("MissingField", f"{filename} has no user attribute. Add user=\"<PSA login>\" "
                             f"naming the employee on whose behalf the request is made.", request_id)
        fields = _read_fields(root, table[action], action, filename, request_id)
    except BadRequest as exc:
        exc.action = action
        raise
    return Request(request_id, action, user, fields, hashlib.sha256(data).hexdigest(), filename)


def load_request(path: str | os.PathLike[str], table: Table, max_bytes: int = MAX_BYTES) -> Request:
    """Read and parse the drop at ``path``, never reading more than ``max_bytes`` + 1 bytes."""
    path = Path(path)
    with open(path, "rb") as fh:
        data = fh.read(max_bytes + 1)
    if len(data) > max_bytes:
        size = os.path.getsize(path)
        raise BadRequest("TooLarge", f"{path.name} is {size} bytes; a request may be at most "
                         f"{max_bytes} bytes. Keep notes short and drop a smaller file.")
    return parse_request(data, path.name, table, max_bytes)


def _parse(data: bytes, filename: str) -> etree._Element:
    try:
        root = safexml.parse_bytes(data, max_bytes=len(data), what=f"request drop {filename}")
    except safexml.RefusedXML:
        raise BadRequest("Refused", f"{filename} declares a DOCTYPE or entities, which are refused for "
                         f"safety. Remove the <!DOCTYPE …> and any <!ENTITY …> from the file.") from None
    except safexml.UnsafeXML as exc:
        raise BadRequest("Malformed", f"{exc}. Write well-formed UTF-8 XML with one <{ROOT_TAG}> root "
                         f"element, and write to a .tmp name first, then rename it to .xml.",
                         ends_early=isinstance(exc, safexml.TruncatedXML)) from None
    if root.tag != ROOT_TAG:
        raise BadRequest("Malformed", f"{filename} has the root element <{root.tag}>; a request must be "
                         f"a <{ROOT_TAG} id=\"…\" action=\"…\" user=\"…\"> element.")
    return root


def _read_id(root: etree._Element, filename: str) -> str:
    request_id = (root.get("id") or "").strip()
    if not ID_RE.match(request_id):
        shown = "no id attribute" if not request_id else f"the id {request_id[:80]!r}"
        raise BadRequest("BadId", f"{filename} has {shown}. Set id= to a unique string of 1 to 64 "
                         f"characters from A-Z, a-z, 0-9, '.', '_' and '-'.")
    if is_reserved(request_id):
        device = request_id.split(".", 1)[0]
        raise BadRequest("BadId", f"{filename} has the id {request_id!r}, which Windows reserves for the device "
                         f"{device.upper()}: its result file could not be written. Choose an id that is not "
                         "CON, PRN, AUX, NUL, COM0-COM9 or LPT0-LPT9 before its first '.' (in any case), "
                         "e.g. prefix it with 'req-'.")
    return request_id


def _read_action(root: etree._Element, filename: str, request_id: str, table: Table) -> str:
    action = (root.get("action") or "").strip()
    if action in table:
        return action
    known = ", ".join(table)
    if not action:
        message = f"{filename} has no action attribute. Set action= to one of: {known}."
    else:
        message = f"{filename} asks for the unknown action {action[:80]!r}. Use one of: {known}."
    raise BadRequest("UnknownAction", message, request_id)


def _read_fields(root: etree._Element, spec: ActionSpec, action: str, filename: str,
                 request_id: str) -> dict[str, str]:
    fields: dict[str, str] = {}
    allowed = ", ".join(f"<{t}>" for t in spec.allowed)
    for child in root:
        if not isinstance(child.tag, str):
            continue
        if child.tag not in spec.allowed:
            raise BadRequest("BadValue", f"{filename}: <{child.tag}> is not a child of a {action} request. "
                             f"Allowed children: {allowed}.", request_id)
        if child.tag in fields:
            raise BadRequest("BadValue", f"{filename} has <{child.tag}> twice. Give it once.", request_id)
        if len(child):
            raise BadRequest("BadValue", f"{filename}: <{child.tag}> must hold plain text, not elements.",
                             request_id)
        fields[child.tag] = (child.text or "").strip()
    for tag in spec.required:
        if not fields.get(tag):
            raise BadRequest("MissingField", f"{filename} is a {action} request without <{tag}>. "
                             f"Add <{tag}>…</{tag}>; a {action} request needs "
                             f"{', '.join(f'<{t}>' for t in spec.required)}.", request_id)
    for tag in spec.optional:
        if tag in fields and not fields[tag]:
            del fields[tag]
    if spec.assign_to:
        fields["AssignTo"] = _assign_to(fields["AssignTo"], spec, action, filename, request_id)
    return fields


def _assign_to(value: str, spec: ActionSpec, action: str, filename: str, request_id: str) -> str:
    # Case is forgiven (a script writing "noc" means NOC); the canonical spelling is kept.
    for allowed in spec.assign_to:
        if value.lower() == allowed.lower():
            return allowed
    raise BadRequest("BadValue", f"{filename}: <AssignTo>{value[:40]}</AssignTo> is not valid for {action}. "
                     f"Use one of: {', '.join(spec.assign_to)}.", request_id)


def is_complete(path: str | os.PathLike[str], quiet_seconds: float = 0.15) -> bool:
    """True when the file's size and mtime have not changed for ``quiet_seconds``.

    A file last modified longer ago than that is answered at once; a fresher one is
    watched for the rest of the quiet period (so this blocks at most ``quiet_seconds``).
    A missing file is not complete.
    """
    try:
        first = os.stat(path)
    except FileNotFoundError:
        return False
    age = time.time() - first.st_mtime
    if age >= quiet_seconds:
        return True
    # age < 0 means a clock ahead of ours (a network share): watch for the whole period.
    time.sleep(quiet_seconds - age if 0 <= age < quiet_seconds else quiet_seconds)
    try:
        second = os.stat(path)
    except FileNotFoundError:
        return False
    return (first.st_size, first.st_mtime_ns) == (second.st_size, second.st_mtime_ns)


def request_files(folder: str | os.PathLike[str]) -> list[Path]:
    """The ``*.xml`` drops directly in ``folder`` (no temp files, no subfolders), oldest first."""
    found: list[tuple[int, str, Path]] = []
    try:
        entries = list(os.scandir(folder))
    except FileNotFoundError:
        return []
    for entry in entries:
        if not entry.name.lower().endswith(".xml") or is_temp_name(entry.name):
            continue
        try:
            if not (entry.is_file(follow_symlinks=False) or entry.is_symlink()):  # a link: listed, then refused
                continue
            found.append((entry.stat(follow_symlinks=False).st_mtime_ns, entry.name, Path(entry.path)))
        except FileNotFoundError:
            continue
    return [p for _m, _n, p in sorted(found)]


def move_to(path: str | os.PathLike[str], dest_folder: str | os.PathLike[str], *, sync: bool = True) -> Path:
    """Move ``path`` into ``dest_folder`` (created if needed) and return the new path.

    An existing file is never overwritten: ``name-1.xml``, ``name-2.xml``, … are tried. The
    file is never left in both folders: when it cannot be moved (another program holds it
    through every try) it stays where it was and :class:`dbsys.fsops.FileInUse` is raised.
    ``sync=False`` leaves making the move durable (both folders' fsync) to the caller, who
    moves many files and syncs each folder once.
    """
    src = Path(path)
    dest_folder = Path(dest_folder)
    dest_folder.mkdir(parents=True, exist_ok=True)
    for n in range(10_000):
        target = dest_folder / (src.name if n == 0 else f"{src.stem}-{n}{src.suffix}")
        if fsops.move_exclusive(src, target):
            if sync:
                fsync_folder(dest_folder)
                fsync_folder(src.parent)
            return target
    raise FileExistsError(errno.EEXIST, f"no free name for {src.name} in {dest_folder}; "
                          f"empty that folder", str(dest_folder))
