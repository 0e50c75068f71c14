"""The e-mail notifier against a real SMTP server (aiosmtpd) on loopback."""

from __future__ import annotations

import socket
import threading
import time
from email import message_from_bytes, policy
from email.message import Message

import pytest
from aiosmtpd.controller import Controller
from loguru import logger

from agent import events, logs
from agent.errors import ConfigError
from agent.events import Event
from agent.plugins import get_plugin_manager
from config.loader import parse_settings
from plugins import notify_email
from plugins.notify_email import EmailNotifier, config_from


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Inbox:
    def __init__(self) -> None:
        self.messages: list[Message] = []
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):
        with self.lock:
            self.messages.append(message_from_bytes(envelope.content, policy=policy.default))
        return "250 OK"

    def wait_for(self, count: int, timeout: float = 10.0) -> list[Message]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if len(self.messages) >= count:
                    return list(self.messages)
            time.sleep(0.02)
        raise AssertionError(f"expected {count} mails, got {len(self.messages)}")


@pytest.fixture()
def smtp():
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    inbox.port = controller.port
    yield inbox
    controller.stop()


@pytest.fixture(autouse=True)
def _no_leftover_notifier():
    yield
    notify_email.shutdown(timeout=2)


def values(port: int, **extra: str) -> dict[str, str]:
    base = {"smtphost": "127.0.0.1", "smtpport": str(port), "to": "noc@example.com, boss@example.com",
            "from": "agent@example.com", "timeoutseconds": "5"}
    base.update({k.lower(): v for k, v in extra.items()})
    return base


def ticket_event(n: int = 1) -> Event:
    return Event(events.TICKET_CREATED, f"Continuum ticket {1000 + n} became PSA ticket TKT{n:017d}",
                 {"continuum_ticket_id": str(1000 + n), "ticket_rec_id": f"TKT{n:017d}"})


def test_an_enabled_plugin_mails_a_ticket_event(tmp_path, smtp):
    settings = parse_settings(
        f"[Plugins]\nnotify_email=Y\n[plugin:notify_email]\nSMTPHost=127.0.0.1\nSMTPPort={smtp.port}\n"
        f"To=noc@example.com\nFrom=agent@example.com\n", base_dir=tmp_path)
    pm = get_plugin_manager(settings)
    assert pm.infos["notify_email"].enabled

    pm.notify(ticket_event(7))

    [mail] = smtp.wait_for(1)
    assert mail["Subject"] == "[zenithlink] Continuum ticket 1007 became PSA ticket TKT00000000000000007"
    assert mail["To"] == "noc@example.com"
    assert mail["From"] == "agent@example.com"
    body = mail.get_payload(decode=True).decode()
    assert "Event: ticket_created" in body
    assert "Continuum ticket: 1007" in body


def test_events_not_chosen_are_not_mailed(smtp):
    notifier = EmailNotifier(config_from(values(smtp.port, events="request_failed")))
    notifier.notify(ticket_event())
    notifier.notify(Event(events.REQUEST_FAILED, "request r1 failed: no linked site"))
    notifier.close()
    mails = smtp.wait_for(1)
    time.sleep(0.1)
    assert [m["Subject"] for m in smtp.messages] == ["[zenithlink] request r1 failed: no linked site"]
    assert len(mails) == 1


def test_a_storm_becomes_at_most_the_cap_plus_one_digest(smtp):
    notifier = EmailNotifier(config_from(values(smtp.port, maxperhour="5")))
    for n in range(100):
        notifier.notify(ticket_event(n))
    notifier.close(timeout=20)  # the agent stops: what is held goes out as one digest

    mails = smtp.wait_for(6)
    time.sleep(0.2)
    assert len(smtp.messages) == 6
    singles, digest = mails[:5], mails[5]
    assert all("became PSA ticket" in m["Subject"] for m in singles)
    assert "95 more events" in digest["Subject"]
    body = digest.get_payload(decode=True).decode()
    assert body.count("[ticket_created]") == 95
    assert "Continuum ticket 1099 became" in body


def test_the_digest_goes_out_when_the_hour_turns(smtp):
    now = [1000.0]
    notifier = EmailNotifier(config_from(values(smtp.port, maxperhour="2")), clock=lambda: now[0])
    for n in range(5):
        notifier.notify(ticket_event(n))
    smtp.wait_for(2)
    time.sleep(0.2)
    assert len(smtp.messages) == 2  # three are held

    now[0] += 3601
    notifier.notify(ticket_event(99))
    mails = smtp.wait_for(4)
    assert "3 more events" in mails[2]["Subject"]
    assert "Continuum ticket 1099" in mails[3]["Subject"]
    notifier.close()
    time.sleep(0.1)
    assert len(smtp.messages) == 4  # nothing left to digest at shutdown


def test_reaching_the_cap_is_logged_once_an_hour(smtp):
    now = [1000.0]
    said: list[str] = []
    first = threading.Event()

    def sink(message) -> None:
        said.append(message.record["message"])
        first.set()

    handle = logger.add(sink, level="WARNING", filter=lambda record: "MaxPerHour" in record["message"])
    try:
        notifier = EmailNotifier(config_from(values(smtp.port, maxperhour="2")), clock=lambda: now[0])
        for n in range(3):
            notifier.notify(ticket_event(n))
        assert first.wait(10), "nothing was logged when the cap was reached"
        assert "2 mails sent within the hour" in said[0] and "digest in about 60 minute" in said[0]
        now[0] += 3601  # a new hour: the held one goes out as a digest, then the cap is reached again
        for n in range(3, 8):
            notifier.notify(ticket_event(n))
        notifier.close(timeout=20)
    finally:
        logger.remove(handle)
    assert len(said) == 2  # once an hour, not once per held event
    subjects = [m["Subject"] for m in smtp.wait_for(6)]
    assert "1 more events" in subjects[2] and "3 more events" in subjects[5]


def test_a_dead_smtp_server_neither_blocks_nor_raises():
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(50)  # accepts connections, never says a word
    try:
        notifier = EmailNotifier(config_from(values(silent.getsockname()[1], timeoutseconds="1")))
        started = time.monotonic()
        for n in range(30):
            notifier.notify(ticket_event(n))
        assert time.monotonic() - started < 1.0  # thirty sends would take 30 s if they blocked the caller
        deadline = time.monotonic() + 10
        while notifier.failed == 0 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert notifier.failed >= 1 and notifier.sent == 0
        notifier.close(timeout=0.2)
    finally:
        silent.close()


def test_a_refused_connection_is_logged_not_raised():
    notifier = EmailNotifier(config_from(values(free_port())))
    notifier.notify(ticket_event())
    notifier.close(timeout=5)
    assert notifier.failed == 1 and notifier.sent == 0


def test_missing_host_and_to_are_clear_problems(tmp_path):
    with pytest.raises(ConfigError) as info:
        config_from({"to": ""})
    text = info.value.message
    assert "SMTPHost is missing" in text and "To is missing" in text

    settings = parse_settings("[Plugins]\nnotify_email=Y\n", base_dir=tmp_path)
    with pytest.raises(ConfigError, match="SMTPHost is missing"):
        get_plugin_manager(settings)


def test_a_misspelt_key_of_the_section_is_named_with_the_key_it_probably_is(tmp_path):
    settings = parse_settings("[Plugins]\nnotify_email=Y\n[plugin:notify_email]\nSMTPHots=mail\nTo=a@example.com\n",
                              base_dir=tmp_path)
    with pytest.raises(ConfigError) as info:
        get_plugin_manager(settings, configure=False)
    assert info.value.problems[0].startswith("[plugin:notify_email] SMTPHost is missing")
    assert "also: unknown key [plugin:notify_email] smtphots is ignored (did you mean SMTPHost?)" in info.value.problems
    settings = parse_settings("[Plugins]\nnotify_email=Y\n[plugin:notify_email]\nSMTPHost=mail\nTo=a@example.com\n"
                              "MaxPerHuor=5\nColour=red\n", base_dir=tmp_path)
    get_plugin_manager(settings, configure=False)
    assert "unknown key [plugin:notify_email] maxperhuor is ignored (did you mean MaxPerHour?)" in settings.warnings
    assert any(w.startswith("unknown key [plugin:notify_email] colour is ignored; its keys are SMTPHost, SMTPPort")
               for w in settings.warnings)


def test_bad_values_are_reported_together():
    with pytest.raises(ConfigError) as info:
        config_from(values(25, security="ssl", maxperhour="lots", events="ticket_created,typo"))
    text = info.value.message
    assert "Security = 'ssl'" in text and "MaxPerHour = 'lots'" in text and "typo" in text


def test_off_by_default_and_needs_no_settings(tmp_path):
    pm = get_plugin_manager(parse_settings("", base_dir=tmp_path))
    assert pm.infos["notify_email"].enabled is False


def test_the_password_is_a_secret():
    config_from(values(25, username="agent", password="s3cret-mail-pass"))
    assert logs.redact("login with s3cret-mail-pass failed") == f"login with {logs.REDACTED} failed"


def test_the_mail_names_the_customer_and_leaves_out_what_is_empty():
    from agent import events
    from plugins.notify_email import _event_body

    body = _event_body(events.Event(events.TICKET_CREATED, "Continuum ticket 7 became PSA ticket TKT1", {
        "ticket_rec_id": "TKT1", "continuum_ticket_id": "7", "site_code": "ACME-HQ", "site_name": "ACME Inc.",
        "device_id": None, "device_name": None, "account_rec_id": "CRD1", "account_name": "Acme, Inc",
        "asset_rec_id": None, "manager": None, "title": "Disk full"}))
    assert "Account: Acme, Inc (CRD1)" in body and "Site: ACME Inc. (ACME-HQ)" in body
    assert "Title: Disk full" in body and "None" not in body and "asset_rec_id" not in body
