"""The DB API's messages and status codes, as the RangerMSP backend builds and reads them."""

from __future__ import annotations

import pytest
from lxml import etree

from agent.backends.rangermsp import messages, status
from agent.backends.rangermsp.fields import ACCOUNT, TICKET
from agent.backends.rangermsp.messages import BadAnswer, Condition
from agent.errors import ConfigError
from agent.ports.psa import PsaNotFound, PsaRejected, PsaUnavailable


def test_data_and_map_buffers_follow_the_contract_layout():
    assert messages.map_buffer(["FLDTKTCARDID", "FLDTKTPROBLEM"]) == b"'\n,\nFLDTKTCARDID\nFLDTKTPROBLEM\n"
    assert messages.data_buffer(["CRD1", "it's, broken\nnow"]) == b"'CRD1','it''s, broken\nnow'"


def test_text_the_code_page_lacks_is_replaced_not_refused():
    assert messages.data_buffer(["caf\u00e9 \u2603"]) == "'caf\u00e9 ?'".encode("cp1252")
    request = messages.query_request("zenithlink", ACCOUNT, [Condition("FLDCRDFULLNAME", "=", "\u2603")],
                                     max_records=5)
    assert b"&#9731;" in request


def test_a_query_request_is_well_formed_with_escaped_values_and_operators():
    request = messages.query_request("zenithlink", TICKET, [Condition("FLDTKTCARDID", "=", "CRD<&>"),
                                                             Condition("FLDTKTSTATUS", "<", "1000")],
                                     max_records=100)
    assert request.startswith(b'<?commitcrmxmlqueryrequest version="1.0" ?>')
    root = etree.fromstring(request.split(b"?>", 1)[1])
    assert root.tag == "CommitCRMQueryDataRequest"
    assert root.findtext("Datakind") == "TICKET" and root.findtext("MaxRecordCount") == "100"
    where = root.find("Query/Where")
    assert [(c.tag, c.get("op"), c.text) for c in where] == [
        ("FLDTKTCARDID", "=", "CRD<&>"), ("Link", None, "AND"), ("FLDTKTSTATUS", "<", "1000")]
    with pytest.raises(ValueError, match="operator"):
        Condition("FLDTKTSTATUS", "~", "1")


def test_a_record_request_names_the_record_and_fields():
    request = messages.record_request("zenithlink", "TKT" + "A" * 17, ["FLDTKTRECID", "FLDTKTSTATUS"])
    root = etree.fromstring(request.split(b"?>", 1)[1])
    assert root.findtext("GetRecordByRecId") == "TKT" + "A" * 17
    assert root.findtext("SelectFieldsList") == "FLDTKTRECID, FLDTKTSTATUS"


def test_answers_are_read_with_raw_data_preferred_and_rec_ids_checked():
    rec = "TKT" + "1" * 17
    raw = (f"<CommitCRMQueryDataResponse><RecordData><FLDTKTRECID>{rec}</FLDTKTRECID></RecordData>"
           f"<RecordData>{rec[:-1]}2</RecordData></CommitCRMQueryDataResponse>").encode() + b"\x00junk"
    assert messages.parse_rec_ids(raw, TICKET) == [rec, rec[:-1] + "2"]
    assert messages.parse_rec_ids(b"\x00", TICKET) == []
    record = (b'<CommitCRMGetRecordDataResponse><RecordData><FLDTKTSTATUS CmtRawData="1000">Completed'
              b"</FLDTKTSTATUS><FLDTKTPROBLEM>a &amp; b</FLDTKTPROBLEM></RecordData></CommitCRMGetRecordDataResponse>")
    assert messages.parse_record(record) == {"FLDTKTSTATUS": "1000", "FLDTKTPROBLEM": "a & b"}
    with pytest.raises(BadAnswer, match="not a REC ID"):
        messages.parse_rec_ids(b"<CommitCRMQueryDataResponse><RecordData>CRD1</RecordData>"
                               b"</CommitCRMQueryDataResponse>", TICKET)


@pytest.mark.parametrize("hostile", [
    b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x "y">]><CommitCRMQueryDataResponse>&x;</CommitCRMQueryDataResponse>',
    b"<CommitCRMQueryDataResponse><RecordData>",
    b"<Other/>",
])
def test_hostile_or_wrong_answers_are_refused(hostile):
    with pytest.raises(BadAnswer):
        messages.parse_rec_ids(hostile, TICKET)


@pytest.mark.parametrize(("code", "error", "words"), [
    (1100, PsaUnavailable, "retries"),
    (150003, PsaNotFound, "merged or deleted"),
    (150008, PsaNotFound, "merged or deleted"),
    (150002, PsaRejected, "psa probe"),
    (110005, PsaRejected, "bug"),
    (150001, PsaRejected, "bug"),
    (999999, PsaRejected, "does not know"),
])
def test_every_status_code_maps_to_its_documented_behaviour(code, error, words):
    exc = status.error_for(code, "CmtInsUpdRec")
    assert isinstance(exc, error) and exc.status == code and exc.call == "CmtInsUpdRec"
    assert words in str(exc) and str(code) in str(exc)


def test_the_application_name_is_checked_before_the_dlls_see_it():
    assert status.app_name_problem("zenithlink") is None
    assert "3 to 15" in status.app_name_problem("zl")
    assert "3 to 15" in status.app_name_problem("x" * 16)
    assert isinstance(status.config_error("x"), ConfigError)
