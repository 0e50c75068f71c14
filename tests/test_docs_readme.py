"""The README's demo excerpt and sample e-mail are what the demo really prints and mails, so they
cannot drift: both are checked against a real run (the demo's world is the same every run; only
REC IDs, times, sizes, the port and the folder differ)."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
from email import message_from_bytes, policy
from email.message import EmailMessage

import pytest
from aiosmtpd.controller import Controller

from conftest import ROOT, run_cli, track
from test_notify_email import free_port

README = ROOT / "README.md"
ELIDED = "…"
WIDTH = "100"  # the terminal width the README's excerpt was printed at
_VOLATILE = (
    (re.compile(r"http://127\.0\.0\.1:\d+"), "http://127.0.0.1:PORT"),
    (re.compile(r"working folder \S+"), "working folder FOLDER"),
    (re.compile(r"\b[A-Z]{3}[0-9A-Z]{17}\b"), "REC_ID"),
    (re.compile(r"\d{4}-\d\d-\d\d[ T]\d\d:\d\d:\d\dZ?"), "TIME"),
    (re.compile(r"\bin \d+\.\d\d s\b"), "in SECONDS s"),
    (re.compile(r"\([\d,]+ bytes\)"), "(SIZE bytes)"),
)


def normalised(line: str) -> str:
    for pattern, placeholder in _VOLATILE:
        line = pattern.sub(placeholder, line)
    return line.rstrip()


def text_block_after(heading: str) -> list[str]:
    """The lines of the first ```text block after ``heading`` in the README."""
    text = README.read_text(encoding="utf-8")
    rest = text[text.index(heading):]
    start = rest.index("```text\n") + len("```text\n")
    return rest[start:rest.index("```", start)].splitlines()


def ini_lines_of_the_mail_walkthrough() -> list[str]:
    text = README.read_text(encoding="utf-8")
    start = text.index("<<'INI'\n") + len("<<'INI'\n")
    return text[start:text.index("\nINI\n", start)].splitlines()


def find(lines: list[str], group: list[str], start: int) -> int:
    for at in range(start, len(lines) - len(group) + 1):
        if lines[at:at + len(group)] == group:
            return at
    return -1


def test_the_readme_demo_excerpt_is_what_the_demo_prints(tmp_path):
    res = run_cli(["demo", "--once", "--folder", str(tmp_path / "demo")], env={"COLUMNS": WIDTH}, timeout=120)
    assert res.code == 0, res.err
    printed = [normalised(line) for line in res.out.splitlines()]
    excerpt = [normalised(line) for line in text_block_after("## Five minutes with the demo")]
    groups: list[list[str]] = [[]]
    for line in excerpt:
        if line == ELIDED:
            groups.append([])
        else:
            groups[-1].append(line)
    assert len(groups) > 5 and all(groups)
    position = 0
    for group in groups:
        found = find(printed, group, position)
        assert found >= 0, "the README shows lines the demo does not print (in this order):\n" + "\n".join(group)
        position = found + len(group)


class Inbox:
    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.arrived = threading.Condition()

    async def handle_DATA(self, server, session, envelope):
        with self.arrived:
            self.messages.append(message_from_bytes(envelope.content, policy=policy.default))
            self.arrived.notify_all()
        return "250 OK"

    def wait_for(self, subject_part: str, timeout: float) -> EmailMessage:
        with self.arrived:
            found = self.arrived.wait_for(lambda: next((m for m in self.messages if subject_part in m["Subject"]),
                                                       None), timeout)
        assert found is not None, f"no mail about {subject_part} within {timeout} s"
        return found


@pytest.mark.posix  # stops the serving demo with SIGINT, as Ctrl-C does
def test_the_readme_sample_mail_is_what_the_serving_demo_sends(tmp_path):
    sample = text_block_after("Within ten seconds the next alert arrives as a mail")
    blank = sample.index("")
    headers = dict(line.split(": ", 1) for line in sample[:blank])
    folder = tmp_path / "demo-work"
    assert run_cli(["demo", "--once", "--folder", str(folder)], timeout=120).code == 0
    inbox = Inbox()
    smtp = Controller(inbox, hostname="127.0.0.1", port=free_port())
    smtp.start()
    try:
        walkthrough = "\n".join(ini_lines_of_the_mail_walkthrough())
        assert "SMTPPort=8025" in walkthrough
        with (folder / "CmtZenithLink.ini").open("a", encoding="utf-8") as ini:
            ini.write(walkthrough.replace("SMTPPort=8025", f"SMTPPort={smtp.port}") + "\n")
        env = dict(os.environ, PYTHONPATH=str(ROOT), NO_COLOR="1", COLUMNS=WIDTH)
        demo = track(subprocess.Popen([sys.executable, "-c", "from agent.cli import main; main()", "demo",
                                       "--folder", str(folder)], env=env, cwd=ROOT, stdout=subprocess.DEVNULL,
                                      stderr=subprocess.DEVNULL))
        continuum_id = re.search(r"Continuum ticket (\d+)", headers["Subject"]).group(1)
        mail = inbox.wait_for(f"Continuum ticket {continuum_id} ", timeout=90)
        demo.send_signal(signal.SIGINT)
        demo.wait(60)
    finally:
        smtp.stop()
    for name, value in headers.items():
        assert normalised(mail[name]) == normalised(value), name
    body = [normalised(line) for line in mail.get_content().splitlines()]
    assert body == [normalised(line) for line in sample[blank + 1:]]
