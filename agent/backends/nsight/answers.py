"""N-sight's XML answers read into the port's records (every byte through ``dbsys.safexml``).

An answer is ``<result status="OK">`` with ``<items>`` (lists) or ``<message>`` (actions), or
``<result status="FAIL">`` with ``<error><errorcode>…</errorcode><message>…</message></error>``.
"""

from __future__ import annotations

from collections.abc import Iterator

from lxml import etree

from agent.ports.rmm import Alert, Device, RmmBadAnswer, RmmCredentialsRefused, RmmRejected, Site
from dbsys import safexml

INVALID_PARAMETER, MISSING_PARAMETER = "4", "5"


def parse(data: bytes, service: str, max_bytes: int) -> etree._Element:
    """The ``<result>`` of an OK answer; a FAIL answer raised as the port's error."""
    try:
        root = safexml.parse_bytes(data, max_bytes=max_bytes, what=f"N-sight's answer to {service}")
    except safexml.UnsafeXML as exc:
        raise RmmBadAnswer(f"N-sight's answer to {service} could not be read: {exc}") from None
    if root.tag != "result":
        raise RmmBadAnswer(f"N-sight answered {service} with <{root.tag}>, not <result>")
    if root.get("status") == "OK":
        return root
    code = safexml.child_text(root, "error/errorcode")
    message = safexml.child_text(root, "error/message") or "no message"
    if "api key" in message.lower() or "apikey" in message.lower():
        raise RmmCredentialsRefused(
            f"N-sight refused the API key ({message}); set [Nsight] APIKey in the INI to a key made in "
            "N-sight under Settings > General Settings > API", server_message=message)
    raise RmmRejected(f"N-sight refused {service}: {message}" + (f" (error {code})" if code else ""),
                      code=f"Nsight{code}" if code else None, server_message=message)


def _text(elem: etree._Element, tag: str) -> str:
    return safexml.child_text(elem, tag)


def clients(root: etree._Element) -> list[tuple[str, str]]:
    return [(_text(c, "clientid"), _text(c, "name")) for c in root.iterfind("items/client")]


def sites(root: etree._Element, client_id: str, client_name: str) -> list[Site]:
    found = []
    for elem in root.iterfind("items/site"):
        site_id, name = _text(elem, "siteid"), _text(elem, "name")
        if not site_id:
            raise RmmBadAnswer("N-sight listed a site without its siteid")
        fields = (("SiteCode", site_id), ("Name", name), ("ClientID", client_id), ("ClientName", client_name))
        found.append(Site(site_code=site_id, name=name, site_id=site_id, client_id=client_id,
                          client_name=client_name, children=fields))
    return found


def devices(root: etree._Element, kind: str, site_code: str) -> list[Device]:
    found = []
    for elem in root.iterfind(f"items/{kind}"):
        device_id, name = _text(elem, "id"), _text(elem, "name")
        if not device_id or not name:
            raise RmmBadAnswer(f"N-sight listed a {kind} of site {site_code} without its id or name")
        fields = (("DeviceID", device_id), ("SiteCode", site_code), ("Name", name), ("DeviceType", kind),
                  ("Description", _text(elem, "description")))
        found.append(Device(device_id=device_id, site_code=site_code, name=name, device_type=kind, children=fields))
    return found


def failing_checks(root: etree._Element) -> Iterator[Alert]:
    """Each failing check, with the site and device it sits under."""
    for site in root.iterfind("items/client/site"):
        site_code = _text(site, "siteid")
        for kind in ("server", "workstation"):
            for device in site.iterfind(f"{kind}s/{kind}"):
                device_id, device_name = _text(device, "id"), _text(device, "name")
                for check in device.iterfind("failed_checks/check"):
                    check_id = _text(check, "checkid")
                    if not check_id:
                        raise RmmBadAnswer(f"N-sight listed a failing check of device {device_id} "
                                           "without its checkid")
                    description = _text(check, "description")
                    # checkid makes the key unique (two checks may share a description); the text reads.
                    name = f"{description} (check {check_id})" if description else check_id
                    yield Alert(alert_id=check_id, device_id=_text(check, "deviceid") or device_id,
                                site_code=site_code, check=name, description=description,
                                check_type=_text(check, "check_type"), severity=_text(check, "dsc247"),
                                failed_since=f"{_text(check, 'date')} {_text(check, 'time')}".strip(),
                                output=_text(check, "formatted_output"), device_name=device_name)
