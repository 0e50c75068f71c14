"""Error answers → the right exception, retry decision and message (httpx.MockTransport)."""

from __future__ import annotations

import httpx
import pytest

from agent.backends.continuum import (
    BadAnswer,
    BadSecurityCode,
    ContinuumClient,
    ContinuumConflict,
    ContinuumError,
    ContinuumInvalid,
    ContinuumNotFound,
    ContinuumRefused,
    ContinuumUnavailable,
    NotActivated,
    RateLimited,
    RetryPolicy,
)
from agent.errors import ZenithError, describe

PSG = "TOPSECRET-PSG-42"


def client_for(handler, attempts=3, sleeps=None, **kwargs) -> ContinuumClient:
    sleeps = sleeps if sleeps is not None else []
    return ContinuumClient("http://continuum.test", PSG, transport=httpx.MockTransport(handler),
                           retry=RetryPolicy(max_attempts=attempts, random=lambda: 0.5),
                           sleep=sleeps.append, **kwargs)


def error_answer(status: int, code: str, message: str = "msg", headers=None):
    calls = []

    def handler(request):
        calls.append(request)
        body = f'<Error code="{code}"><Message>{message}</Message></Error>'
        return httpx.Response(status, content=body.encode(), headers=headers or {})

    return handler, calls


@pytest.mark.parametrize("status, code, exc_type, retryable, retried", [
    (401, "BadSecurityCode", BadSecurityCode, False, False),
    (403, "NotActivated", NotActivated, True, False),
    (404, "NotFound", ContinuumNotFound, False, False),
    (409, "Conflict", ContinuumConflict, False, False),
    (422, "Invalid", ContinuumInvalid, False, False),
    (400, "Whatever", ContinuumRefused, False, False),
    (408, "Timeout", ContinuumUnavailable, True, True),
    (429, "TooManyRequests", RateLimited, True, True),
    (500, "Unavailable", ContinuumUnavailable, True, True),
    (502, "Unavailable", ContinuumUnavailable, True, True),
    (503, "Unavailable", ContinuumUnavailable, True, True),
    (504, "Unavailable", ContinuumUnavailable, True, True),
])
def test_status_maps_to_exception_and_retry_decision(status, code, exc_type, retryable, retried):
    handler, calls = error_answer(status, code, "server says no")
    client = client_for(handler, attempts=3)
    with pytest.raises(exc_type) as info:
        client.get_ticket("1")
    exc = info.value
    assert type(exc) is exc_type
    assert isinstance(exc, ContinuumError) and isinstance(exc, ZenithError)
    assert exc.status == status and exc.code == code and exc.retryable is retryable
    assert exc.server_message == "server says no"
    assert len(calls) == (3 if retried else 1)


def test_refusals_are_never_retried_even_for_posts():
    handler, calls = error_answer(409, "Conflict")
    client = client_for(handler, attempts=5)
    with pytest.raises(ContinuumConflict):
        client.close_ticket("1", idempotency_key="k")
    assert len(calls) == 1


def test_bad_security_code_message_names_the_ini_key_and_hides_the_psg():
    handler, _ = error_answer(401, "BadSecurityCode", f"unknown code {PSG}")
    with pytest.raises(BadSecurityCode) as info:
        client_for(handler).ping()
    text = describe(info.value)
    assert "[Continuum] PSG" in text and "INI" in text
    assert PSG not in text and PSG not in info.value.server_message and PSG not in repr(info.value.args)


def test_not_activated_says_it_can_take_a_day_and_is_not_a_fault():
    handler, _ = error_answer(403, "NotActivated")
    with pytest.raises(NotActivated) as info:
        client_for(handler).ping()
    assert "24 hours" in str(info.value) and "keeps retrying" in str(info.value)


def test_error_without_xml_body_still_maps_by_status():
    client = client_for(lambda r: httpx.Response(404, content=b"not xml at all"))
    with pytest.raises(ContinuumNotFound) as info:
        client.get_ticket("9")
    assert info.value.code == "NotFound" and info.value.server_message == ""


def test_hostile_server_code_is_not_used_as_our_code():
    handler, _ = error_answer(422, "bad code with spaces")
    with pytest.raises(ContinuumInvalid) as info:
        client_for(handler).get_ticket("1")
    assert info.value.code == "Invalid"


def test_redirect_is_a_bad_answer():
    client = client_for(lambda r: httpx.Response(302, headers={"Location": "http://elsewhere"}))
    with pytest.raises(BadAnswer):
        client.ping()


def test_wrong_root_element_is_a_bad_answer():
    client = client_for(lambda r: httpx.Response(200, content=b"<Ticket><TicketID>1</TicketID></Ticket>"))
    with pytest.raises(BadAnswer) as info:
        client.ping()
    assert "ContinuumURL" in str(info.value)


def test_non_numeric_total_is_a_bad_answer():
    client = client_for(lambda r: httpx.Response(200, content=b'<Sites total="many"/>'))
    with pytest.raises(BadAnswer):
        list(client.iter_sites())


def test_connection_errors_are_retried_then_unavailable():
    calls = []

    def handler(request):
        calls.append(1)
        raise httpx.ConnectError("connection refused", request=request)

    sleeps: list[float] = []
    with pytest.raises(ContinuumUnavailable) as info:
        client_for(handler, attempts=4, sleeps=sleeps).ping()
    assert len(calls) == 4 and len(sleeps) == 3
    assert info.value.retryable and info.value.status is None


def test_transient_then_success():
    answers = iter([httpx.Response(503), httpx.Response(502), httpx.Response(200, content=b'<Pong partner="p"/>')])
    client = client_for(lambda r: next(answers), attempts=5)
    assert client.ping().partner == "p"


def test_psg_never_in_any_error_text():
    def handler(request):
        raise httpx.ReadError(f"boom {PSG}", request=request)

    with pytest.raises(ContinuumUnavailable) as info:
        client_for(handler, attempts=1).ping()
    assert PSG not in str(info.value)


@pytest.mark.parametrize("psg", ["with space", "new\nline", "é"])
def test_unsendable_psg_is_refused_without_echo(psg):
    with pytest.raises(BadSecurityCode) as info:
        ContinuumClient("http://continuum.test", psg)
    assert psg not in str(info.value)


def test_bad_url_is_refused():
    with pytest.raises(ZenithError) as info:
        ContinuumClient("ftp://x", "psg")
    assert "ContinuumURL" in str(info.value)


def test_psg_never_in_debug_logs():
    from loguru import logger

    lines: list[str] = []
    sink = logger.add(lambda m: lines.append(str(m)), level="DEBUG")
    answers = iter([httpx.Response(503), httpx.Response(401, content=f"<Error code='BadSecurityCode'>"
                                                                       f"<Message>{PSG}</Message></Error>".encode())])
    try:
        with pytest.raises(BadSecurityCode):
            client_for(lambda r: next(answers), attempts=3).ping()
    finally:
        logger.remove(sink)
    assert any("/psa/v1/ping" in line for line in lines)  # requests are logged at DEBUG
    assert not any(PSG in line for line in lines)
