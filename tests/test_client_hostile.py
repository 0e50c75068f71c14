"""Hostile and oversized answers are refused quickly, with bounded memory."""

from __future__ import annotations

import httpx
import pytest

from agent.backends.continuum import BadAnswer, CircuitBreaker, ContinuumClient, RetryPolicy

BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>
<Pong partner="&lol3;" activated="true"/>"""
EXTERNAL_ENTITY = b"""<?xml version="1.0"?>
<!DOCTYPE Pong [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><Pong partner="&xxe;"/>"""
DOCTYPE_ONLY = b'<!DOCTYPE Pong><Pong partner="p" activated="true"/>'
MALFORMED = b'<Pong partner="p" activated="true">'
UNDEFINED_ENTITY = b'<Pong partner="&nope;"/>'


def client_for(body: bytes | None = None, *, handler=None, **kwargs) -> tuple[ContinuumClient, list]:
    calls: list = []

    def default(request):
        calls.append(request)
        return httpx.Response(200, content=body)

    client = ContinuumClient("http://continuum.test", "psg", transport=httpx.MockTransport(handler or default),
                             retry=RetryPolicy(max_attempts=3), sleep=lambda s: None, **kwargs)
    return client, calls


@pytest.mark.parametrize("body", [BILLION_LAUGHS, EXTERNAL_ENTITY, DOCTYPE_ONLY, MALFORMED, UNDEFINED_ENTITY,
                                  b"", b"   ", b"\xff\xfe<P/>"], ids=["laughs", "xxe", "doctype", "malformed",
                                                                  "undefined-entity", "empty", "blank", "binary"])
def test_hostile_answers_are_bad_answers(body):
    client, calls = client_for(body)
    with pytest.raises(BadAnswer) as info:
        client.ping()
    assert info.value.retryable
    assert "passwd" not in str(info.value) and "root:" not in str(info.value)
    assert len(calls) == 1  # a refused answer is not hammered again at once


def test_declared_oversize_is_refused_before_reading():
    big = b"<Pong " + b" " * 5000 + b'partner="p"/>'
    client, _ = client_for(big, max_answer_bytes=1000)
    with pytest.raises(BadAnswer) as info:
        client.ping()
    assert "larger than 1000 bytes" in str(info.value)


def test_streamed_oversize_without_length_is_refused_while_reading():
    produced = []

    def endless():
        yield b"<Sites>"
        while True:
            produced.append(1)
            yield b"<Site><SiteCode>x</SiteCode></Site>" * 100

    def handler(request):
        return httpx.Response(200, content=endless())

    client, _ = client_for(handler=handler, max_answer_bytes=100_000)
    with pytest.raises(BadAnswer):
        list(client.iter_sites())
    assert len(produced) < 40  # stopped soon after the cap, not at the end of the stream


def test_bad_answers_do_not_open_the_circuit():
    client, _ = client_for(MALFORMED, circuit=CircuitBreaker(failure_threshold=1))
    for _ in range(3):
        with pytest.raises(BadAnswer):
            client.ping()
    assert client.circuit.state == "closed"


def test_gzip_bomb_is_capped_on_decoded_size():
    import gzip

    bomb = gzip.compress(b"<Pong>" + b" " * 5_000_000 + b"</Pong>")
    client, _ = client_for(handler=lambda r: httpx.Response(200, content=bomb, headers={"Content-Encoding": "gzip"}),
                           max_answer_bytes=100_000)
    assert len(bomb) < 100_000
    with pytest.raises(BadAnswer):
        client.ping()
