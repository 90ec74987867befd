"""Pure import rules: parsing cell values, CSV dialect, report safety, run state, summary.

No Flask or SQLAlchemy here, so every rule is unit-tested with plain values.
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from .records import MemberRecord

# A "running" run that has not reported progress for this long was killed or crashed.
STALE_AFTER = timedelta(minutes=3)
# Keep this many rejected rows per run; all of them are counted.
MAX_ISSUES_KEPT = 5000

_GERMAN_DATE = re.compile(r"^(\d{1,2})\.(\d{1,2})\.(\d{4})(?:[ T](\d{1,2}):(\d{2})(?::(\d{2}))?)?$")


def parse_count(text: str | None, field: str) -> int:
    """A non-negative whole number; an empty cell is 0 (spreadsheets leave zeros empty)."""
    if text is None:
        return 0
    text = text.strip()
    if not text:
        return 0
    try:
        value = int(text)
    except ValueError:
        raise ValueError(f"{field}: {text!r} is not a whole number") from None
    if value < 0:
        raise ValueError(f"{field}: {value} is negative")
    return value


def parse_day(text: str | None, field: str = "day") -> date:
    """A calendar day: ISO `2024-03-01` (also the date part of a timestamp) or `01.03.2024`."""
    text = (text or "").strip()
    if not text:
        raise ValueError(f"{field} is empty")
    try:
        return date.fromisoformat(text[:10])
    except ValueError:
        pass
    match = _GERMAN_DATE.match(text)
    if match:
        try:
            return date(int(match[3]), int(match[2]), int(match[1]))
        except ValueError:
            pass
    raise ValueError(f"{field}: {text!r} is not a date (use YYYY-MM-DD)")


def parse_timestamp(text: str | None, field: str) -> datetime | None:
    """An aware UTC datetime from ISO 8601 (naive means UTC) or a German `dd.mm.yyyy [hh:mm]`.

    An empty cell is None.
    """
    text = (text or "").strip()
    if not text:
        return None
    value: datetime | None = None
    try:
        # Python 3.11 reads a trailing Z itself; the replace is for a lowercase z.
        value = datetime.fromisoformat(text)
    except ValueError:
        pass
    if value is None:
        try:
            value = datetime.fromisoformat(text.replace("z", "+00:00"))
        except ValueError:
            pass
    if value is None:
        match = _GERMAN_DATE.match(text)
        if match:
            try:
                value = datetime(int(match[3]), int(match[2]), int(match[1]),
                                 int(match[4] or 0), int(match[5] or 0), int(match[6] or 0))
            except ValueError:
                value = None
    if value is None:
        raise ValueError(f"{field}: {text!r} is not a date/time (use ISO 8601)")
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value if value.tzinfo is UTC else value.astimezone(UTC)


def detect_delimiter(header: str) -> str:
    """`;` when the header uses it (German Excel), else `,`."""
    return ";" if header.count(";") > header.count(",") else ","


def csv_safe(value: object) -> str:
    """A report cell that spreadsheets will not run as a formula (OWASP CSV injection)."""
    text = "" if value is None else str(value)
    if text and text[0] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + text
    return text


def clean_display_name(text: str) -> str:
    """A name on one line: control characters and line breaks (CR, LF, NEL, U+2028...)
    become spaces, runs of spaces collapse; it ends up in mail headers and CSV exports."""
    if text.isprintable():
        return text  # the common case, at C speed
    return " ".join("".join(
        " " if unicodedata.category(ch) in ("Cc", "Zl", "Zp") else ch for ch in text).split())


# A bare addr-spec: something@domain.tld-ish, no spaces, quotes, brackets or separators.
_EMAIL = re.compile(r"[^\s@<>,;:\"()\[\]\\]+@[^\s@<>,;:\"()\[\]\\.][^\s@<>,;:\"()\[\]\\]*")


def email_problem(email: str) -> str | None:
    """Why an imported e-mail address cannot be used (None: fine)."""
    if not email.isprintable():
        return "email contains a line break or control character"
    if not _EMAIL.fullmatch(email):
        return f"email {email!r} is not a valid address"
    return None


def clean_member(record: MemberRecord) -> MemberRecord:
    """The shared row rules for members of every format: the name cleaned; ValueError for
    an e-mail address that cannot be used (the row is rejected with file, line, reason)."""
    name = clean_display_name(record.display_name)
    if record.email is not None:
        problem = email_problem(record.email)
        if problem:
            raise ValueError(problem)
    if name is not record.display_name:
        if not name:
            raise ValueError("display_name is empty")
        return record._replace(display_name=name[:255])
    return record


def clean_text(value: object, limit: int) -> str | None:
    """A stripped string cut to the column's length; empty is None."""
    if value is None:
        return None
    text = str(value).strip()
    return text[:limit] if text else None


class RunState:
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    INTERRUPTED = "interrupted"  # shown, never stored: a running run that stopped reporting


def run_state(status: str, heartbeat_at: datetime | None, started_at: datetime | None,
              now: datetime, stale_after: timedelta = STALE_AFTER) -> str:
    """The state to show: a 'running' run without a recent heartbeat was interrupted."""
    if status != RunState.RUNNING:
        return status
    last = heartbeat_at or started_at
    if last is not None and now - last > stale_after:
        return RunState.INTERRUPTED
    return RunState.RUNNING


@dataclass(frozen=True)
class Summary:
    """The outcome of one run, as counted by the loader."""

    fmt: str
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    days: int = 0
    skipped: int = 0
    skipped_reasons: tuple[str, ...] = ()
    rejected: int = 0
    seconds: float = 0.0

    @property
    def members(self) -> int:
        return self.created + self.updated + self.unchanged

    def line(self) -> str:
        """One line for the terminal and the log."""
        skipped = f"{self.skipped:,} skipped"
        if self.skipped_reasons:
            skipped += f" ({', '.join(self.skipped_reasons)})"
        return (f"{self.fmt}: {self.members:,} members ({self.created:,} new, "
                f"{self.updated:,} updated, {self.unchanged:,} unchanged), "
                f"{self.days:,} contribution days, {skipped}, "
                f"{self.rejected:,} rows rejected, {self.seconds:.1f} s")
