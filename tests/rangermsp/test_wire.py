"""The simulator server behind the simulator's real DLLs, spoken to in Python (the DLLs' side of
the protocol), on every platform: what the DLLs rely on of it."""

from __future__ import annotations

import socket
import struct

import pytest

from agent.backends.rangermsp import messages
from agent.sandbox.rangermsp import make_installation
from agent.sandbox.rangermsp.wire import ADDRESS_FILE, Client, Function, serve

APP = b"zenithlink"


@pytest.fixture
def installation(tmp_path):
    return make_installation(tmp_path / "RangerMSP")


@pytest.fixture
def server(installation):
    with serve(installation) as running:
        yield running


def _open(server, installation, pid: int = 4242) -> Client:
    client = Client(server.address, pid)
    for fn in (Function.INIT_ENG, Function.INIT_QRY):
        status, outputs = client.call(fn, (), (APP, str(installation / "Db").encode(), b"C:\\where\\I\\am"))
        assert (status, outputs) == (1, [])
    return client


def test_the_address_file_beside_the_dlls_names_the_server_and_goes_with_it(installation):
    running = serve(installation)
    path = installation / "ThirdParty" / "UserDev" / ADDRESS_FILE
    assert path.read_text(encoding="ascii") == f"127.0.0.1:{running.address[1]}"
    running.close()
    assert not path.exists()


def test_init_records_the_callers_working_directory_once_per_process(server, installation):
    client = _open(server, installation)
    load = server.loads[4242]
    assert load.init_cwds == {"CmtInitDbEngDll": "C:\\where\\I\\am", "CmtInitDbQryDll": "C:\\where\\I\\am"}
    assert load.libraries.calls["CmtInitDbEngDll"] == 1
    client.close()


def test_reads_answer_in_the_callers_size_and_say_1020_when_it_is_too_small(server, installation):
    client = _open(server, installation)
    request = messages.system_properties_request("zenithlink").encode()
    status, outputs = client.call(Function.PROPERTIES, (len(request), 16), (request,))
    assert (status, outputs) == (1020, [None])  # nothing written: the caller's buffer is left alone
    status, (answer,) = client.call(Function.PROPERTIES, (len(request), 64 * 1024), (request,))
    assert status == 1 and answer is not None and b"<CmtDateFormat>" in answer
    client.close()


def test_a_description_is_cut_to_the_size_given(server, installation):
    client = _open(server, installation)
    assert client.call(Function.DESCRIBE_QRY, (1020, 10)) == (1, [b"The size f"])
    assert client.call(Function.DESCRIBE_ENG, (1, 512)) == (1, [b"OK"])
    client.close()


def test_an_insert_answers_its_rec_id_and_a_refusal_its_codes_and_message(server, installation):
    client = _open(server, installation)
    data, mapping = messages.data_buffer(["Caf\xe9"]).encode("cp1252"), messages.map_buffer(["FLDCRDCOMPANY"]).encode()
    status, (rec_id, codes, text) = client.call(Function.INS_UPD, (10, 0, 0, 64, 64, 1024), (APP, data, mapping))
    assert status == 1 and rec_id is not None and rec_id.startswith(b"CRD") and len(rec_id) == 20
    assert (codes, text) == (b"", None)
    bad = messages.map_buffer(["FLDCRDNOSUCH"]).encode()
    status, (rec_id, codes, text) = client.call(Function.INS_UPD, (10, 0, 0, 64, 64, 1024), (APP, data, bad))
    assert status == 2000 and rec_id is None and codes == b"150010" and text and b"FLDCRDNOSUCH" in text
    client.close()


def test_another_process_is_another_load(server, installation):
    first = _open(server, installation, pid=1)
    second = Client(server.address, pid=2)
    request = messages.system_properties_request("zenithlink").encode()
    assert second.call(Function.PROPERTIES, (len(request), 4096), (request,))[0] == 1008  # not initialised
    assert set(server.loads) == {1, 2}
    first.close()
    second.close()


def test_a_malformed_or_unknown_request_is_a_general_error_not_a_dead_server(server, installation):
    client = _open(server, installation)
    assert client.call(99) == (2000, [])
    assert client.call(Function.QUERY, (1,), ()) == (2000, [])
    client.close()
    raw = socket.create_connection(server.address)
    raw.sendall(struct.pack("<I", 3) + b"bad")
    assert raw.recv(16) == b""  # the server drops a connection that breaks the protocol
    raw.close()
    again = _open(server, installation)
    assert again.call(Function.DESCRIBE_QRY, (1, 8)) == (1, [b"OK"])
    again.close()
