"""Built-in notifier (off by default): events by e-mail, at most ``MaxPerHour`` mails an hour.

``[plugin:notify_email]``: ``SMTPHost``, ``SMTPPort`` (25), ``Security`` (none, starttls, tls),
``Username``, ``Password``, ``From``, ``To`` (comma-separated), ``Events`` (comma-separated event
kinds or ``all``; default every ticket event and every failure), ``MaxPerHour`` (20),
``TimeoutSeconds`` (30). Above the cap, events are held and sent as one digest mail when the
hour turns, or when the agent stops: an alert storm never becomes a mail storm. Reaching the
cap is logged once an hour, when the first event is held. Mail goes out
from a background thread, so a slow or dead SMTP server never holds the agent up; failures
are logged, never raised.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from agent import logs
from agent.errors import ConfigError
from plugins._notify_common import NotifierSlot, Worker, events_text, parse_events, parse_number, split_list

if TYPE_CHECKING:
    import smtplib

    from agent.events import Event

DEFAULT_ENABLED = False
NAME = "notify_email"
SECTION = f"plugin:{NAME}"
SECURITY_CHOICES = ("none", "starttls", "tls")
HOUR = 3600.0


@dataclass(frozen=True)
class EmailConfig:
    host: str
    to: tuple[str, ...]
    port: int = 25
    security: str = "none"
    username: str = ""
    password: str = field(default="", repr=False)
    sender: str = "zenithlink@localhost"
    events: frozenset[str] = frozenset()
    max_per_hour: int = 20
    timeout: float = 30.0


def config_from(values: dict[str, str]) -> EmailConfig:
    """Validate a ``[plugin:notify_email]`` section (keys lower-cased); raise :class:`ConfigError`."""
    problems: list[str] = []
    host = (values.get("smtphost") or "").strip()
    to = tuple(split_list(values.get("to")))
    if not host:
        problems.append(f"[{SECTION}] SMTPHost is missing: name the mail server that accepts the agent's "
                        f"mail (or set notify_email=N in [Plugins])")
    if not to:
        problems.append(f"[{SECTION}] To is missing: give one or more addresses, separated by commas")
    security = (values.get("security") or "none").strip().lower()
    if security not in SECURITY_CHOICES:
        problems.append(f"[{SECTION}] Security = {security!r}: must be one of {', '.join(SECURITY_CHOICES)}")
    default_port = 465 if security == "tls" else (587 if security == "starttls" else 25)
    port = parse_number(values, "SMTPPort", default_port, SECTION, problems, minimum=1, maximum=65535)
    cap = parse_number(values, "MaxPerHour", 20, SECTION, problems, minimum=1, maximum=10000)
    timeout = parse_number(values, "TimeoutSeconds", 30.0, SECTION, problems, minimum=1, maximum=600, whole=False)
    events, event_problems = parse_events(values.get("events"), SECTION)
    problems += event_problems
    username, password = (values.get("username") or "").strip(), values.get("password") or ""
    if password and not username:
        problems.append(f"[{SECTION}] Password is set but Username is not: set both, or neither")
    if problems:
        raise ConfigError(problems)
    logs.add_secret(password)
    sender = (values.get("from") or "").strip() or f"zenithlink@{socket.gethostname() or 'localhost'}"
    return EmailConfig(host=host, to=to, port=port, security=security, username=username, password=password,
                       sender=sender, events=events, max_per_hour=cap, timeout=timeout)


class EmailNotifier:
    """Sends each chosen event as one mail, holding the overflow of an hour for one digest."""

    def __init__(self, config: EmailConfig, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.config = config
        self._clock = clock
        self._window_start: float | None = None
        self._sent_in_window = 0
        self._held: list[Any] = []
        self._lock = threading.Lock()
        self.sent = 0
        self.failed = 0
        self.worker = Worker(f"{NAME} worker", self._handle, maxsize=1000, wait=self._wait,
                             tick=self._roll_window, finish=self._finish)

    def notify(self, event: Event) -> None:
        if event.kind in self.config.events:
            self.worker.submit(event)

    def close(self, timeout: float = 10.0) -> None:
        self.worker.close(timeout)

    # -- worker side -----------------------------------------------------------------------
    def _handle(self, event: Event) -> None:
        if self._window_start is None:
            self._window_start = self._clock()
        if self._sent_in_window >= self.config.max_per_hour:
            if not self._held:  # the first event held this hour: say so once, not per event
                self._say_capped()
            self._held.append(event)
            return
        self._sent_in_window += 1
        self._send(_subject(event.summary), _event_body(event))

    def _say_capped(self) -> None:
        start = self._clock() if self._window_start is None else self._window_start
        minutes = max(1, round((start + HOUR - self._clock()) / 60))
        from loguru import logger  # on use: a command that never logs here starts faster
        logger.warning("notify_email: {} mails sent within the hour, the cap (MaxPerHour in [{}]); further events "
                       "are held and mailed as one digest in about {} minute(s), when the hour turns (or when the "
                       "agent stops). Raise MaxPerHour to be mailed each one.",
                       self.config.max_per_hour, SECTION, minutes)

    def _wait(self) -> float | None:
        if not self._held or self._window_start is None:
            return None
        return max(0.0, self._window_start + HOUR - self._clock())

    def _roll_window(self) -> None:
        if self._window_start is None or self._clock() < self._window_start + HOUR:
            return
        self._window_start, self._sent_in_window = self._clock(), 0
        self._send_digest()

    def _finish(self) -> None:
        self._send_digest()

    def _send_digest(self) -> None:
        held, self._held = self._held, []
        if not held:
            return
        subject = _subject(f"{len(held)} more events (over {self.config.max_per_hour} mails in an hour)")
        body = (f"More than {self.config.max_per_hour} events arrived within an hour, so these were held "
                f"and are sent together:\n\n{events_text(held)}\n")
        self._send(subject, body)

    def _send(self, subject: str, body: str) -> None:
        # Imported here: every command that loads the plugins (check-config) would pay for smtplib
        # and the e-mail package, and only a mail being sent needs them.
        import smtplib
        from email import policy
        from email.message import EmailMessage
        from email.utils import formatdate, make_msgid

        # Subjects are at most ~170 characters: keep them on one line rather than folded.
        message = EmailMessage(policy=policy.SMTP.clone(max_line_length=998))
        message["Subject"] = subject
        message["From"] = self.config.sender
        message["To"] = ", ".join(self.config.to)
        message["Date"] = formatdate(localtime=True)
        message["Message-ID"] = make_msgid(domain="zenithlink")
        message.set_content(body)
        try:
            with _connect(self.config) as smtp:
                smtp.send_message(message)
        except (OSError, smtplib.SMTPException) as exc:
            self.failed += 1
            from loguru import logger  # on use: a command that never logs here starts faster
            logger.warning("notify_email: cannot send {!r} through {}:{}: {}. Check [{}] SMTPHost, "
                           "SMTPPort, Security and the credentials.", subject, self.config.host,
                           self.config.port, exc, SECTION)
            return
        self.sent += 1


def _connect(config: EmailConfig) -> smtplib.SMTP:
    import smtplib
    import ssl

    if config.security == "tls":
        smtp: smtplib.SMTP = smtplib.SMTP_SSL(config.host, config.port, timeout=config.timeout,
                                              context=ssl.create_default_context())
    else:
        smtp = smtplib.SMTP(config.host, config.port, timeout=config.timeout)
    try:
        if config.security == "starttls":
            smtp.starttls(context=ssl.create_default_context())
        if config.username:
            smtp.login(config.username, config.password)
    except BaseException:
        smtp.close()
        raise
    return smtp


def _subject(summary: str) -> str:
    line = " ".join(summary.split())
    return f"[zenithlink] {line[:150]}{'…' if len(line) > 150 else ''}"


# How an event's fields read in a mail, in this order; a name goes beside its code or REC ID.
_SHOWN = (("title", "Title", None), ("account_rec_id", "Account", "account_name"), ("site_code", "Site", "site_name"),
          ("device_id", "Device", "device_name"), ("asset_rec_id", "Asset", "asset_name"),
          ("ticket_rec_id", "PSA ticket", None), ("continuum_ticket_id", "Continuum ticket", None),
          ("manager", "Manager", None))


def _event_body(event: Event) -> str:
    d = event.as_dict()
    data = dict(d["data"])
    lines = [d["summary"], "", f"Event: {d['kind']}", f"At:    {d['at']}"]
    for key, label, name_key in _SHOWN:
        value, name = data.pop(key, None), data.pop(name_key, None) if name_key else None
        if value in (None, "") and not name:
            continue
        lines.append(f"{label}: {name} ({value})" if name and value else f"{label}: {name or value}")
    for key, value in sorted(data.items()):  # anything else an event carries, as it is
        if value not in (None, ""):
            lines.append(f"{key.replace('_', ' ').capitalize()}: {value}")
    return "\n".join(lines) + "\n"


# -- the plugin: one notifier per configuration, replaced on reload -------------------------
_slot = NotifierSlot(NAME, config_from, EmailNotifier, "mailed",
                     keys=("SMTPHost", "SMTPPort", "Security", "Username", "Password", "From", "To", "Events",
                           "MaxPerHour", "TimeoutSeconds"))
configure = _slot.configure
shutdown = _slot.shutdown
zenith_check_config, zenith_configure, zenith_notify = _slot.hookimpls()
