"""Dates and times as the installation writes them, built from ``CmtGetSystemProperties``.

The vendor reads CmtDateFormat, CmtDateSeparator, CmtTimeFormat and CmtIsTimeFormatAMPMInUse
once at start-up and builds every date from them (S1 ``DateTimeToTimestamp`` /
``TimestampToDateTime``, facts §5.6): the date format is split on ``/`` (never on the
separator) into ``dd``/``d``, ``mm``/``m``, ``yyyy``/``yy``; the parts are joined with the
separator; the time is ``H:MM`` from ``CmtTimeFormat`` split on ``:``, 12-hour with `` AM``/`` PM``
when AM/PM is in use, and there are no seconds.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from agent.errors import ConfigError


@dataclass(frozen=True)
class SystemDates:
    date_format: str = "dd/mm/yyyy"
    separator: str = "/"
    time_format: str = "HH:MM"
    am_pm: bool = False

    @classmethod
    def from_properties(cls, props: dict[str, str]) -> SystemDates:
        dates = cls(date_format=(props.get("CmtDateFormat") or "").strip(),
                    separator=props.get("CmtDateSeparator") or "/",
                    time_format=(props.get("CmtTimeFormat") or "HH:MM").strip(),
                    am_pm=(props.get("CmtIsTimeFormatAMPMInUse") or "").strip().upper() == "Y")
        dates.check()
        return dates

    def _tokens(self) -> list[str]:
        return [t.strip().lower() for t in self.date_format.split("/")]

    def check(self) -> None:
        tokens = self._tokens()
        kinds = sorted(t[0] for t in tokens if t in ("d", "dd", "m", "mm", "yy", "yyyy"))
        if len(tokens) != 3 or kinds != ["d", "m", "y"]:
            raise ConfigError([f"RangerMSP's CmtDateFormat {self.date_format!r} is not a day, a month and a year "
                               "separated by '/': run 'zenithlink psa probe' and report its output"])

    def describe(self) -> str:
        return (f"{self.date_format.replace('/', self.separator)} {self.time_format}"
                + (" AM/PM" if self.am_pm else ""))

    def format(self, moment: datetime) -> str:
        parts = []
        for token in self._tokens():
            if token[0] == "d":
                parts.append(f"{moment.day:02d}" if token == "dd" else str(moment.day))
            elif token[0] == "m":
                parts.append(f"{moment.month:02d}" if token == "mm" else str(moment.month))
            else:
                parts.append(str(moment.year)[2:] if token == "yy" else str(moment.year))
        hour, suffix = moment.hour, ""
        if self.am_pm:
            suffix = " PM" if hour >= 12 else " AM"
            hour = hour % 12 or 12
        return f"{self.separator.join(parts)} {hour}:{moment.minute:02d}{suffix}"

    def parse(self, text: str) -> datetime:
        """The reverse of :meth:`format` (raises ``ValueError`` on anything else)."""
        pieces = text.strip().split(" ")
        date_part = pieces[0]
        values = date_part.split(self.separator) if self.separator else [date_part]
        if len(values) != 3:
            raise ValueError(f"{text!r} is not a date in {self.describe()}")
        day = month = year = 0
        for token, value in zip(self._tokens(), values):
            number = int(value)
            if token[0] == "d":
                day = number
            elif token[0] == "m":
                month = number
            else:
                year = number + 2000 if token == "yy" else number
        hour = minute = 0
        if len(pieces) > 1:
            h, _, m = pieces[1].partition(":")
            hour, minute = int(h), int(m or 0)
            marker = pieces[2].upper() if len(pieces) > 2 else ""
            if marker == "PM" and hour < 12:
                hour += 12
            elif marker == "AM" and hour == 12:
                hour = 0
        return datetime(year, month, day, hour, minute)
