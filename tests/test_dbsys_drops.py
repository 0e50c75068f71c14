"""Request drops: every action accepted, every error code from a real bad file, file handling."""

from __future__ import annotations

import hashlib
import os
import threading
import time

import pytest

from agent.sync.requests import drop_table
from dbsys import drops
from dbsys.drops import BadRequest, is_complete, move_to, request_files

ACTIONS = drop_table()


def parse_request(data: bytes, filename: str, **kwargs):
    return drops.parse_request(data, filename, ACTIONS, **kwargs)


def load_request(path, **kwargs):
    return drops.load_request(path, ACTIONS, **kwargs)

VALUES = {"TicketRecID": "TKT00000000000000001", "AssignTo": "", "Note": "Please check the backup job.",
          "SiteCode": "ACME-HQ", "AccountRecID": "CRD00000000000000001", "DeviceID": "5001",
          "AssetRecID": "AST00000000000000001"}


def request_xml(action: str, children: dict[str, str], *, rid: str = "7f9c-1", user: str = "jsmith") -> bytes:
    inner = "".join(f"<{k}>{v}</{k}>" for k, v in children.items())
    return (f'<?xml version="1.0" encoding="utf-8"?>\n'
            f'<ZenithRequest id="{rid}" action="{action}" user="{user}">{inner}</ZenithRequest>').encode()


def full_children(action: str) -> dict[str, str]:
    spec = ACTIONS[action]
    children = {t: VALUES[t] for t in spec.allowed}
    if spec.assign_to:
        children["AssignTo"] = spec.assign_to[-1]
    return children


@pytest.mark.parametrize("action", sorted(ACTIONS))
def test_every_action_is_accepted_with_all_and_with_required_children(action):
    children = full_children(action)
    data = request_xml(action, children)
    req = parse_request(data, "r.xml")
    assert (req.id, req.action, req.user, req.filename) == ("7f9c-1", action, "jsmith", "r.xml")
    assert req.fields == children
    assert req.content_hash == hashlib.sha256(data).hexdigest()
    required = {t: children[t] for t in ACTIONS[action].required}
    assert parse_request(request_xml(action, required), "r.xml").fields == required


def test_assign_to_values_per_action():
    for action, values in (("CreateTicket", ("NOC", "VSD", "Partner")), ("Reassign", ("Keep", "VSD", "Partner"))):
        for value in values:
            drop = request_xml(action, {"TicketRecID": "TKT1", "AssignTo": value.lower()})
            fields = parse_request(drop, "r.xml").fields
            assert fields["AssignTo"] == value
    with pytest.raises(BadRequest) as info:
        parse_request(request_xml("CreateTicket", {"TicketRecID": "TKT1", "AssignTo": "Keep"}), "r.xml")
    assert info.value.code == "BadValue" and "NOC, VSD, Partner" in info.value.message


def test_note_text_is_kept_and_stripped():
    data = request_xml("AddNote", {"TicketRecID": " TKT1 ", "Note": "  a &amp; b\n second line <![CDATA[<x>]]> "})
    assert parse_request(data, "r.xml").fields == {"TicketRecID": "TKT1", "Note": "a & b\n second line <x>"}


BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
]>
<ZenithRequest id="a" action="AddNote" user="u"><TicketRecID>T</TicketRecID><Note>&lol4;</Note></ZenithRequest>"""

EXTERNAL_ENTITY = b"""<?xml version="1.0"?>
<!DOCTYPE r [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<ZenithRequest id="a" action="AddNote" user="u"><TicketRecID>T</TicketRecID><Note>&xxe;</Note></ZenithRequest>"""

PLAIN_DOCTYPE = b"""<?xml version="1.0"?><!doctype ZenithRequest>
<ZenithRequest id="a" action="UnlinkSite" user="u"><SiteCode>S</SiteCode></ZenithRequest>"""

UTF16_DOCTYPE = ('<?xml version="1.0" encoding="utf-16"?><!DOCTYPE ZenithRequest>'
                 '<ZenithRequest id="a" action="UnlinkSite" user="u"><SiteCode>S</SiteCode></ZenithRequest>'
                 ).encode("utf-16")

BAD_FILES = [
    ("malformed", b"<ZenithRequest id='a' action='UnlinkSite' user='u'><SiteCode>S</ZenithRequest>", "Malformed", None),
    ("truncated", request_xml("UnlinkSite", {"SiteCode": "S"})[:-10], "Malformed", None),
    ("wrong root", b"<Request id='a' action='UnlinkSite' user='u'/>", "Malformed", None),
    ("billion laughs", BILLION_LAUGHS, "Refused", None),
    ("external entity", EXTERNAL_ENTITY, "Refused", None),
    ("doctype", PLAIN_DOCTYPE, "Refused", None),
    ("utf-16 doctype", UTF16_DOCTYPE, "Refused", None),
    ("empty", b"", "Empty", None),
    ("blank", b"  \n\t ", "Empty", None),
    ("unknown action", request_xml("FormatDisk", {"SiteCode": "S"}), "UnknownAction", "7f9c-1"),
    ("no action", b"<ZenithRequest id='r1' user='u'><SiteCode>S</SiteCode></ZenithRequest>", "UnknownAction", "r1"),
    ("missing child", request_xml("LinkSite", {"SiteCode": "S"}), "MissingField", "7f9c-1"),
    ("empty child", request_xml("AddNote", {"TicketRecID": "T", "Note": "  "}), "MissingField", "7f9c-1"),
    ("no user", b"<ZenithRequest id='r1' action='UnlinkSite'><SiteCode>S</SiteCode></ZenithRequest>",
     "MissingField", "r1"),
    ("bad AssignTo", request_xml("Reassign", {"TicketRecID": "T", "AssignTo": "NOC"}), "BadValue", "7f9c-1"),
    ("unknown child", request_xml("UnlinkSite", {"SiteCode": "S", "Notes": "x"}), "BadValue", "7f9c-1"),
    ("duplicate child", b"<ZenithRequest id='r1' action='UnlinkSite' user='u'>"
                        b"<SiteCode>S</SiteCode><SiteCode>T</SiteCode></ZenithRequest>", "BadValue", "r1"),
    ("nested child", b"<ZenithRequest id='r1' action='UnlinkSite' user='u'>"
                     b"<SiteCode><b>S</b></SiteCode></ZenithRequest>", "BadValue", "r1"),
    ("bad id chars", request_xml("UnlinkSite", {"SiteCode": "S"}, rid="../../etc"), "BadId", None),
    ("id too long", request_xml("UnlinkSite", {"SiteCode": "S"}, rid="a" * 65), "BadId", None),
    ("no id", b"<ZenithRequest action='UnlinkSite' user='u'><SiteCode>S</SiteCode></ZenithRequest>", "BadId", None),
]


@pytest.mark.parametrize("label,data,code,request_id", BAD_FILES, ids=[b[0] for b in BAD_FILES])
def test_bad_files_get_their_code_and_a_helpful_message(tmp_path, label, data, code, request_id):
    path = tmp_path / "drop.xml"
    path.write_bytes(data)
    with pytest.raises(BadRequest) as info:
        load_request(path)
    err = info.value
    assert err.code == code
    assert err.request_id == request_id
    assert "drop.xml" in err.message and len(err.message) > 40
    assert err.code in drops.ERROR_CODES
    assert "root:" not in err.message  # no /etc/passwd content leaked


def test_ten_megabyte_file_is_too_large_without_reading_it_all(tmp_path):
    path = tmp_path / "huge.xml"
    with open(path, "wb") as fh:
        fh.write(b"<ZenithRequest id='big' action='AddNote' user='u'><TicketRecID>T</TicketRecID><Note>")
        fh.write(b"x" * (10 * 1024 * 1024))
        fh.write(b"</Note></ZenithRequest>")
    with pytest.raises(BadRequest) as info:
        load_request(path)
    assert info.value.code == "TooLarge" and str(path.stat().st_size) in info.value.message
    with pytest.raises(BadRequest) as info:
        parse_request(path.read_bytes(), "huge.xml")
    assert info.value.code == "TooLarge"


def test_file_written_in_place_in_chunks_is_not_complete_until_done(tmp_path):
    path = tmp_path / "slow.xml"
    data = request_xml("AddNote", {"TicketRecID": "T", "Note": "n" * 4000})
    chunks = [data[i:i + 500] for i in range(0, len(data), 500)]
    answers: list[bool] = []
    writing = threading.Event()
    finished = threading.Event()

    def writer():
        with open(path, "wb") as fh:
            writing.set()
            for chunk in chunks:
                fh.write(chunk)
                fh.flush()
                time.sleep(0.05)
        finished.set()

    thread = threading.Thread(target=writer)
    thread.start()
    writing.wait()
    while not finished.is_set():
        complete = is_complete(path, quiet_seconds=0.15)
        if not finished.is_set():
            answers.append(complete)
    thread.join()
    assert answers and not any(answers)
    time.sleep(0.2)
    assert is_complete(path, quiet_seconds=0.15)
    assert load_request(path).fields["Note"] == "n" * 4000


def test_is_complete_answers_old_files_at_once_and_missing_as_false(tmp_path):
    path = tmp_path / "old.xml"
    path.write_bytes(b"x")
    past = time.time() - 10
    os.utime(path, (past, past))
    start = time.monotonic()
    assert is_complete(path)
    assert time.monotonic() - start < 0.1
    assert not is_complete(tmp_path / "missing.xml")


def test_request_files_lists_xml_drops_oldest_first(tmp_path):
    (tmp_path / "Processed").mkdir()
    (tmp_path / "Processed" / "done.xml").write_bytes(b"x")
    (tmp_path / "writing.tmp").write_bytes(b"x")
    (tmp_path / ".a.xml.0123456789ab.tmp").write_bytes(b"x")
    (tmp_path / "notes.txt").write_bytes(b"x")
    names = ["c.xml", "a.xml", "B.XML"]
    for age, name in enumerate(names):
        p = tmp_path / name
        p.write_bytes(b"x")
        t = time.time() - 100 + age
        os.utime(p, (t, t))
    assert [p.name for p in request_files(tmp_path)] == names
    assert request_files(tmp_path / "missing") == []


def test_move_to_never_overwrites(tmp_path):
    dest = tmp_path / "Processed"
    moved = []
    for content in (b"1", b"2", b"3"):
        src = tmp_path / "r.xml"
        src.write_bytes(content)
        moved.append(move_to(src, dest))
        assert not src.exists()
    assert [p.name for p in moved] == ["r.xml", "r-1.xml", "r-2.xml"]
    assert [p.read_bytes() for p in moved] == [b"1", b"2", b"3"]


# -- ids Windows reserves for devices --------------------------------------------------------

@pytest.mark.parametrize("rid", ["CON", "con", "Nul", "PRN", "aux", "COM1", "com9", "LPT1", "lpt9", "COM0",
                                 "NUL.tar.gz", "con.1", "Com3.request"])
def test_ids_windows_reserves_for_devices_are_refused_with_a_reason(rid):
    with pytest.raises(BadRequest) as info:
        parse_request(request_xml("UnlinkSite", {"SiteCode": "S"}, rid=rid), "drop.xml")
    err = info.value
    assert err.code == "BadId" and err.request_id is None  # the result is named after the file
    assert "reserves for the device" in err.message and rid.split(".")[0].upper() in err.message
    assert "drop.xml" in err.message and "Choose an id" in err.message


@pytest.mark.parametrize("rid", ["CONSOLE", "COM10", "LPT", "nul_1", "icon", "COM1x", "x.CON", "req-con", "AUXILIARY"])
def test_ids_that_only_look_like_device_names_are_fine(rid):
    assert parse_request(request_xml("UnlinkSite", {"SiteCode": "S"}, rid=rid), "drop.xml").id == rid


@pytest.mark.parametrize("name,expected", [("r1", "r1.xml"), ("CON", "_CON.xml"), ("nul.request", "_nul.request.xml"),
                                           ("com1.a b", "_com1.a_b.xml"), ("console", "console.xml")])
def test_result_names_are_never_device_names(name, expected):
    from dbsys.results import result_name

    assert result_name(name) == expected


def test_a_doctype_after_a_long_comment_is_refused_as_a_doctype_not_as_malformed():
    from dbsys.drops import BadRequest

    data = (b"<?xml version='1.0'?><!--" + b"x" * 70_000 + b"-->"
            b"<!DOCTYPE ZenithRequest [<!ENTITY big 'boom'>]><ZenithRequest id='d1' action='AddNote' user='u'/>")
    with pytest.raises(BadRequest) as caught:
        parse_request(data, "late-doctype.xml", max_bytes=len(data))
    assert caught.value.code == "Refused" and "DOCTYPE" in caught.value.message


def test_a_drop_that_ends_early_may_grow_and_one_wrong_before_its_end_cannot():
    whole = ('<?xml version="1.0" encoding="utf-8"?>\n<ZenithRequest id="r-1" action="AddNote" user="jo">'
             '<TicketRecID>TKT1</TicketRecID><Note>Grüße &amp; <![CDATA[a<b]]> 日本</Note></ZenithRequest>'
             ).encode()
    for cut in range(len(whole)):  # every beginning of a good drop may still grow
        with pytest.raises(BadRequest) as info:
            parse_request(whole[:cut], "d.xml")
        assert info.value.ends_early, whole[:cut]
    for wrong in (b"<ZenithRequest id='a'></Wrong>", b"<ZenithRequest id='a'/>junk", b"hello",
                  b"<ZenithRequest id='a' id='b'>"):
        with pytest.raises(BadRequest) as info:
            parse_request(wrong, "d.xml")
        assert info.value.code == "Malformed" and not info.value.ends_early, wrong
