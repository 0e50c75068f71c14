"""The DB API's messages as the vendor's own code writes them (rangermsp-api-facts.md §3.1, §4.1,
§4.3), the answers as it reads them (§4.4), the status table, the dates of §5.6 and the PE check."""

from __future__ import annotations

import pytest
from rangermsp_support import pe_header

from agent.backends.rangermsp import fields as F
from agent.backends.rangermsp import messages, status
from agent.backends.rangermsp.dates import SystemDates
from agent.backends.rangermsp.messages import BadAnswer, Condition, Group
from agent.backends.rangermsp.pe import check_loadable, dll_bits
from agent.errors import ConfigError
from agent.ports.psa import PsaNotFound, PsaRejected, PsaUnavailable

CRLF = "\r\n"


def test_data_and_map_buffers_are_the_vendors_nothing_escaped_no_trailing_line():
    assert messages.data_buffer(["X", "it's"]) == "'X','it's'"
    assert messages.map_buffer(["FLDTKTRECID", "FLDTKTPROBLEM"]) == "'\n,\nFLDTKTRECID\nFLDTKTPROBLEM"


def test_a_query_is_written_with_spaced_links_a_group_and_an_order_on_the_rec_id():
    where = Group((Condition("FLDTKTCARDID", "=", "CRD" + "A" * 17), Condition("FLDTKTSTATUS", "<", "1000")))
    text = messages.query_request("zenithlink", F.TICKET, where, max_records=100)
    assert text == (
        f'<?xml version="1.0" ?>{CRLF}<?commitcrmxmlqueryrequest version="1.0" ?>{CRLF}'
        f"<CommitCRMQueryDataRequest>{CRLF}<ExternalApplicationName>zenithlink</ExternalApplicationName>{CRLF}"
        f"<Datakind>TICKET</Datakind>{CRLF}<MaxRecordCount>100</MaxRecordCount>{CRLF}<query>{CRLF}<where>{CRLF}"
        f"<Link> ( </Link>{CRLF}<FLDTKTCARDID op=\"=\" >CRD{'A' * 17}</FLDTKTCARDID>{CRLF}"
        f'<Link> and </Link><FLDTKTSTATUS op="<" >1000</FLDTKTSTATUS>{CRLF}<Link> ) </Link>{CRLF}'
        f'</where>{CRLF}<order>{CRLF}<FLDTKTRECID dir="asc" />{CRLF}</order>{CRLF}</query>{CRLF}'
        f"</CommitCRMQueryDataRequest>{CRLF}")


@pytest.mark.parametrize("value", ["a<b", "Smith & Sons", "it's", "two\nlines"])
def test_a_value_the_unescaped_xml_cannot_carry_is_kept_out_of_queries(value):
    with pytest.raises(PsaRejected, match="unescaped XML"):
        Condition("FLDCRDFULLNAME", "=", value)


def test_the_other_requests_are_the_vendors():
    record = messages.record_request("zenithlink", "TKT" + "A" * 17, ["FLDTKTRECID", "FLDTKTPROBLEM"])
    assert '<?commitcrmxmlgetrecorddatarequest version = "1.0" ?>' in record
    assert "<SelectFieldsList>FLDTKTRECID,FLDTKTPROBLEM </SelectFieldsList>" in record
    multi = messages.multi_record_request("zenithlink", ["CRD" + "A" * 17, "CRD" + "B" * 17], ["FLDCRDRECID"])
    assert '<?commitcrmxmlgetmultirecorddatarequest version = "1.0" ?>' in multi
    assert f"\t<GetMultiRecordByRecId>CRD{'A' * 17},CRD{'B' * 17}</GetMultiRecordByRecId>" in multi
    attrs = messages.field_attributes_request("zenithlink", "FLDTKTUSER1")
    assert "\t<GetRecordByRecId>FLDTKTUSER1</GetRecordByRecId>" in attrs
    assert messages.system_properties_request("zl-app").startswith(
        '\t<?commitcrmxmlgetsystempropertiesrequest version = "1.0" ?>')


def test_answers_are_read_with_status_codes_message_and_raw_data():
    text = ('<?xml version="1.0" ?><CommitCRMGetRecordDataResponse><Status StatsValue="1">SUCCESS</Status>'
            "<ResultCodes>50001, 110019</ResultCodes><ResultMessage>fine</ResultMessage><RecordData>"
            '<FLDTKTSTATUS CmtRawData="1000">Completed</FLDTKTSTATUS><FLDTKTPROBLEM>café</FLDTKTPROBLEM>'
            "</RecordData></CommitCRMGetRecordDataResponse>")
    answer = messages.parse_answer(text, "CommitCRMGetRecordDataResponse", "CmtGetRecordDataByRecId")
    assert answer is not None
    assert (answer.status_text, answer.codes, answer.message) == ("SUCCESS", (50001, 110019), "fine")
    assert messages.record_values(answer, "x") == {"FLDTKTSTATUS": "1000", "FLDTKTPROBLEM": "café"}


@pytest.mark.parametrize("hostile", [
    '<!DOCTYPE x [<!ENTITY e "boom">]><CommitCRMQueryDataResponse>&e;</CommitCRMQueryDataResponse>',
    "<CommitCRMQueryDataResponse><RecordData>",
    "<Other/>",
])
def test_hostile_or_wrong_answers_are_refused(hostile):
    with pytest.raises(BadAnswer):
        messages.parse_answer(hostile, "CommitCRMQueryDataResponse", "CmtGetQueryRecIds")


def test_a_query_answer_that_is_no_rec_id_is_refused():
    text = ("<CommitCRMQueryDataResponse><Status>SUCCESS</Status><RecordData><FLDTKTRECID>nope</FLDTKTRECID>"
            "</RecordData></CommitCRMQueryDataResponse>")
    answer = messages.parse_answer(text, "CommitCRMQueryDataResponse", "CmtGetQueryRecIds")
    with pytest.raises(BadAnswer):
        messages.rec_ids(answer, F.TICKET)


@pytest.mark.parametrize(("code", "codes", "error", "words"), [
    (1100, (), status.DbApiBusy, "tries again"),
    (1022, (), status.DbApiMaintenance, "pauses"),
    (1023, (), status.DbApiRestart, "Restart the zenithlink service"),
    (1, (150003,), PsaNotFound, "merged or deleted"),
    (1, (150010,), PsaRejected, "psa probe"),
    (2000, (110005,), PsaRejected, "bug"),
    (9999, (), PsaRejected, "does not know"),
])
def test_every_status_and_code_maps_to_its_documented_behaviour(code, codes, error, words):
    exc = status.error_for(code, "CmtInsUpdRec", codes=codes)
    assert isinstance(exc, error) and exc.status == code and exc.codes == codes
    assert words in str(exc) and str(code) in str(exc)


def test_maintenance_and_a_newer_api_are_outages_not_refusals():
    assert isinstance(status.error_for(1022, "x"), PsaUnavailable)
    assert isinstance(status.error_for(1023, "x"), PsaUnavailable)


def test_the_application_name_is_checked_before_the_dlls_see_it():
    assert status.app_name_problem("zenithlink") is None
    assert "3 to 15" in (status.app_name_problem("zl") or "")


# -- dates (§5.6) ----------------------------------------------------------------------------------
@pytest.mark.parametrize(("props", "written"), [
    ({"CmtDateFormat": "dd/mm/yyyy", "CmtDateSeparator": "/", "CmtTimeFormat": "HH:MM"}, "31/12/2026 21:05"),
    ({"CmtDateFormat": "mm/dd/yyyy", "CmtDateSeparator": "/", "CmtTimeFormat": "HH:MM",
      "CmtIsTimeFormatAMPMInUse": "Y"}, "12/31/2026 9:05 PM"),
    ({"CmtDateFormat": "yyyy/mm/dd", "CmtDateSeparator": ".", "CmtTimeFormat": "H:MM"}, "2026.12.31 21:05"),
    ({"CmtDateFormat": "d/m/yy", "CmtDateSeparator": "-", "CmtTimeFormat": "HH:MM"}, "31-12-26 21:05"),
])
def test_dates_follow_the_installations_system_properties_both_ways(props, written):
    from datetime import datetime

    dates = SystemDates.from_properties(props)
    moment = datetime(2026, 12, 31, 21, 5)
    assert dates.format(moment) == written
    assert dates.parse(written) == moment


def test_midnight_and_noon_on_a_12_hour_clock():
    from datetime import datetime

    dates = SystemDates.from_properties({"CmtDateFormat": "mm/dd/yyyy", "CmtIsTimeFormatAMPMInUse": "Y"})
    assert dates.format(datetime(2026, 1, 2, 0, 7)) == "01/02/2026 12:07 AM"
    assert dates.parse("01/02/2026 12:07 PM") == datetime(2026, 1, 2, 12, 7)


def test_a_date_format_without_day_month_and_year_is_refused():
    with pytest.raises(ConfigError, match="CmtDateFormat"):
        SystemDates.from_properties({"CmtDateFormat": "dd-mm-yyyy"})


# -- the PE header (§1.3) ----------------------------------------------------------------------------
def _pe(tmp_path, machine: int, magic: int):
    path = tmp_path / "CmtDbQry.dll"
    path.write_bytes(pe_header(machine, magic))
    return path


def test_the_bitness_of_a_dll_is_read_from_its_pe_header(tmp_path):
    assert dll_bits(_pe(tmp_path, 0x14C, 0x10B)) == 32
    assert dll_bits(_pe(tmp_path, 0x8664, 0x20B)) == 64


def test_a_32_bit_dll_in_a_64_bit_process_is_refused_with_the_fix_before_loading(tmp_path):
    dll = _pe(tmp_path, 0x14C, 0x10B)
    with pytest.raises(ConfigError, match="32-bit DLL.*64-bit process.*install zenithlink with a 32-bit"):
        check_loadable(dll, bits=64)
    check_loadable(dll, bits=32)
    with pytest.raises(ConfigError, match="64-bit DLL.*32-bit process"):
        check_loadable(_pe(tmp_path, 0x8664, 0x20B), bits=32)
