"""The outage tracker on its own, with a fake clock: the threshold, one report per episode, the
recovery, and a log that says each change of state once."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from loguru import logger

from agent import events
from agent.app import App
from agent.hookspecs import hookimpl
from agent.ports.rmm import (
    RmmBadAnswer,
    RmmCredentialsRefused,
    RmmNotActivated,
    RmmRateLimited,
    RmmRejected,
    RmmUnavailable,
)
from agent.reporting import report_failure
from agent.sync.health import duration
from agent.sync.outage import OutageTracker, classify, is_outage, threshold_seconds
from dbsys import reports

DOWN = RmmUnavailable("Could not get an answer from Continuum for GET /psa/v1/queue (ConnectError: refused); "
                      "the agent will try again.")
START = 1_795_000_000.0  # 2026-11-18T11:06:40Z


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class Recorder:
    def __init__(self) -> None:
        self.events: list[events.Event] = []

    @hookimpl
    def zenith_notify(self, event):
        self.events.append(event)

    def kinds(self) -> list[str]:
        return [e.kind for e in self.events]


class Setup:
    def __init__(self, tmp_path: Path, poll: int = 30) -> None:
        ini = tmp_path / "CmtZenithLink.ini"
        ini.write_text(f"[Continuum]\nPollIntervalSeconds={poll}\n[RangerMSP]\nDbsysFolder=Dbsys\n")
        self.recorder = Recorder()
        self.app = App(ini, extra_plugins=[("recorder", self.recorder)])
        self.clock = Clock()
        self.changes: list[bool] = []
        self.tracker = self.new_tracker()

    def new_tracker(self) -> OutageTracker:
        return OutageTracker(self.app, clock=self.clock, on_change=lambda: self.changes.append(True))

    def reports(self) -> list[reports.ReportInfo]:
        return reports.list_reports(self.app.settings.dbsys_folder)

    def state(self, key: str) -> str | None:
        return self.app.state.get_state(key)

    def fail_for(self, seconds: float, every: float = 1.0, source: str = "feed") -> list[str]:
        """A failure every ``every`` seconds for ``seconds`` seconds (the first one now); their levels."""
        levels = [self.tracker.failed(source, DOWN)]
        for _ in range(round(seconds / every)):
            self.clock.advance(every)
            levels.append(self.tracker.failed(source, DOWN))
        return levels


@pytest.fixture
def setup(tmp_path):
    made = Setup(tmp_path)
    yield made
    made.app.close()


@pytest.fixture
def log():
    """(level, message) of the agent's own lines; the log notifier's echo of each event is left out."""
    lines: list[tuple[str, str]] = []
    sink = logger.add(lambda m: lines.append((m.record["level"].name, m.record["message"])), level="DEBUG",
                      filter=lambda record: record["name"] != "plugins.notify_log")
    yield lines
    logger.remove(sink)


def test_failures_shorter_than_the_threshold_are_no_episode(setup):
    setup.fail_for(59)

    assert not setup.tracker.ongoing
    assert setup.reports() == [] and setup.recorder.events == []
    assert setup.state("last_error") is None and setup.state("outage_since") is None


def test_crossing_the_threshold_reports_once_per_episode(setup):
    setup.fail_for(60)  # the 61st failure is 60 s after the first

    assert setup.tracker.ongoing
    (report,) = setup.reports()
    assert report.kind == "continuum-unreachable"
    assert setup.recorder.kinds() == [events.CONTINUUM_UNREACHABLE]
    assert setup.recorder.events[0].data["since"] == "2026-11-18T11:06:40Z"
    assert setup.state("last_error").startswith("Continuum has not answered for 1 min 0 s (since 2026-11-18T11:06:40Z)")
    assert "ConnectError" in setup.state("last_error")
    assert setup.state("outage_since").startswith("2026-11-18T11:06:40")
    assert setup.changes == [True]

    setup.fail_for(600, every=5, source="outbox")  # ten more minutes, from another engine too

    assert len(setup.reports()) == 1 and setup.recorder.kinds() == [events.CONTINUUM_UNREACHABLE]
    shown = reports.read_report(setup.app.settings.dbsys_folder, report.name)
    assert "ContinuumURL" in shown["todo"] and "outbox" in shown["todo"]


def test_the_threshold_is_twice_the_poll_interval_but_at_least_a_minute(tmp_path):
    slow = Setup(tmp_path, poll=45)
    try:
        assert threshold_seconds(slow.app.settings) == 90
        slow.fail_for(89)
        assert not slow.tracker.ongoing
        slow.fail_for(1)
        assert slow.tracker.ongoing
    finally:
        slow.app.close()
    assert threshold_seconds(type("S", (), {"poll_interval_seconds": 1})()) == 60


def test_an_answer_starts_the_count_again(setup):
    setup.fail_for(50)
    setup.clock.advance(1)
    setup.tracker.answered("outbox")
    setup.clock.advance(1)
    setup.fail_for(59)

    assert not setup.tracker.ongoing and setup.reports() == []
    setup.clock.advance(1)
    setup.tracker.failed("feed", DOWN)
    assert setup.tracker.ongoing


def test_the_first_answer_after_an_episode_recovers_it(setup, log):
    setup.fail_for(125)
    setup.clock.advance(2)

    setup.tracker.answered("outbox")

    assert not setup.tracker.ongoing
    assert setup.recorder.kinds() == [events.CONTINUUM_UNREACHABLE, events.CONTINUUM_RECOVERED]
    recovered = setup.recorder.events[-1]
    assert recovered.data["seconds"] == 127 and recovered.data["source"] == "outbox"
    assert recovered.summary == ("Continuum answers again; it had not answered for 2 min 7 s "
                                 "(since 2026-11-18T11:06:40Z)")
    assert setup.state("outage_since") is None
    assert setup.state("last_error") == ("Recovered at 2026-11-18T11:08:47Z after 2 min 7 s: Continuum had not "
                                         "answered since 2026-11-18T11:06:40Z")
    infos = [m for level, m in log if level == "INFO" and "answers again" in m]
    assert infos == ["Continuum answers again (outbox): it had not answered for 2 min 7 s "
                     "(since 2026-11-18T11:06:40Z)"]
    assert setup.changes == [True, True]

    setup.tracker.answered("feed")  # nothing more to say
    assert len(setup.recorder.events) == 2 and len(setup.reports()) == 1

    setup.fail_for(60)  # a new episode is reported again
    assert len(setup.reports()) == 2
    assert setup.recorder.kinds()[-1] == events.CONTINUUM_UNREACHABLE


def test_recovery_leaves_a_later_failure_in_last_error(setup):
    setup.fail_for(60)
    report_failure(setup.app, "request", "Continuum refused to add the note", RmmRejected("HTTP 404"))
    setup.tracker.answered("feed")

    assert setup.state("last_error").startswith("Continuum refused to add the note")
    assert setup.state("outage_since") is None


def test_a_run_is_a_warning_once_then_debug_until_continuum_answers(setup, log):
    levels = setup.fail_for(120)

    assert levels[0] == "WARNING" and set(levels[1:]) == {"DEBUG"}
    assert [m for level, m in log if level == "ERROR"] == [
        "Continuum has not answered for 1 min 0 s (since 2026-11-18T11:06:40Z): " + DOWN.message]
    assert not [m for level, m in log if level in ("WARNING", "INFO") and "answer" in m.lower()]

    setup.tracker.answered("feed")
    assert setup.tracker.failed("feed", DOWN) == "WARNING"  # a new run
    assert setup.tracker.failed("inventory", DOWN) == "DEBUG"


def test_a_short_run_ends_quietly(setup, log):
    setup.fail_for(10)
    setup.tracker.answered("feed")

    assert setup.recorder.events == [] and setup.state("last_error") is None
    assert not [m for level, m in log if level not in ("DEBUG", "TRACE")]


def test_an_episode_left_by_an_earlier_process_is_taken_over(setup):
    setup.fail_for(60)
    setup.clock.advance(30)
    restarted = setup.tracker = setup.new_tracker()  # the agent restarted during the outage

    assert restarted.failed("feed", DOWN) == "WARNING"  # said once by the new process too
    assert restarted.ongoing and len(setup.reports()) == 1

    restarted.answered("inventory")
    assert setup.recorder.kinds() == [events.CONTINUUM_UNREACHABLE, events.CONTINUUM_RECOVERED]
    assert setup.recorder.events[-1].data["seconds"] == 90
    assert setup.state("outage_since") is None and setup.state("last_error").startswith("Recovered at")


def test_an_answer_clears_an_episode_of_an_earlier_process_at_once(setup):
    setup.fail_for(60)
    restarted = setup.new_tracker()

    restarted.answered("feed")

    assert setup.state("outage_since") is None
    assert setup.recorder.kinds()[-1] == events.CONTINUUM_RECOVERED


def test_engines_failing_together_at_the_threshold_report_once(setup):
    setup.tracker.failed("feed", DOWN)
    setup.clock.advance(61)
    barrier = threading.Barrier(8)

    def engine() -> None:
        barrier.wait()
        setup.tracker.failed("outbox", DOWN)

    threads = [threading.Thread(target=engine) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(setup.reports()) == 1 and setup.recorder.kinds() == [events.CONTINUUM_UNREACHABLE]


def test_what_counts_as_not_answering():
    assert is_outage(DOWN) and is_outage(RmmBadAnswer("truncated XML"))
    for answered in (RmmRejected("404"), RmmRateLimited("429"), RmmCredentialsRefused("401"),
                     RmmNotActivated("403"), ValueError("a bug")):
        assert not is_outage(answered)


@pytest.mark.parametrize(("seconds", "text"), [(0, "0 s"), (59.6, "1 min 0 s"), (61, "1 min 1 s"),
                                               (3600, "1 h 0 min"), (3 * 3600 + 125, "3 h 2 min"),
                                               (90000, "1 d 1 h")])
def test_durations_read_as_a_person_would_say_them(seconds, text):
    assert duration(seconds) == text


def test_the_status_says_what_fails_from_the_first_failure_and_a_later_report_wins(tmp_path):
    from agent.runtime.status import store_figures

    setup = Setup(tmp_path)
    setup.app.owns_folder = True  # the agent that holds the folder records the run
    setup.app.state.set_state("last_error", "An old failure: long fixed")
    setup.tracker.failed("feed", DOWN)
    figures = store_figures(setup.app.state)
    assert figures["last_error"].startswith("Continuum has not answered for ")
    assert figures["last_error"].endswith(DOWN.message) and figures["failing_since"]
    assert figures["outage_since"] is None and setup.reports() == []

    report_failure(setup.app, "store", "Recording the inventory refresh in the store failed", OSError("disk full"))
    assert store_figures(setup.app.state)["last_error"].startswith("Recording the inventory refresh")
    setup.tracker.answered("feed")
    figures = store_figures(setup.app.state)
    assert figures["failing_since"] is None
    assert figures["last_error"].startswith("Recording the inventory refresh")  # not the outage's to replace


def test_after_a_run_of_failures_short_of_an_outage_the_last_error_is_the_one_before(tmp_path):
    from agent.runtime.status import store_figures

    setup = Setup(tmp_path)
    setup.app.owns_folder = True
    setup.app.state.set_state("last_error", "An old failure: long fixed")
    setup.fail_for(20)
    assert store_figures(setup.app.state)["last_error"].startswith("Continuum has not answered for ")
    setup.tracker.answered("outbox")
    figures = store_figures(setup.app.state)
    assert figures["failing_since"] is None and figures["outage_since"] is None
    assert figures["last_error"] == "An old failure: long fixed"


def test_a_command_that_does_not_hold_the_folder_leaves_no_run_in_the_store(tmp_path):
    setup = Setup(tmp_path)  # not the service: a failure of a command must not outlive it there
    setup.tracker.failed("outbox", DOWN)
    assert setup.state("continuum_failing_since") is None and setup.state("last_error") is None


@pytest.mark.parametrize(("exc", "kind"), [
    (DOWN, "unreachable"), (RmmBadAnswer("garbled"), "unreachable"),
    (RmmNotActivated("pending"), "not activated"), (RmmCredentialsRefused("bad PSG"), "credentials refused"),
    (RmmRateLimited("wait", retry_after=5), "rate limited"), (RmmRejected("no"), "refused"),
    (OSError("disk"), "other")])
def test_one_classification_of_an_rmm_failure_tells_the_tracker_what_it_means(setup, exc, kind):
    setup.tracker.failed("feed", DOWN)
    level = setup.tracker.heard("outbox", exc)
    assert classify(exc) == kind
    # Continuum not answering goes on the run (a repeat: DEBUG); a refusal is an answer and ends it.
    assert level == ("DEBUG" if kind == "unreachable" else None)
    assert setup.tracker.failing == (kind in ("unreachable", "other"))
