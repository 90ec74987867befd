"""What readers yield and what can go wrong: plain immutable values and named errors.

Records are NamedTuples rather than frozen dataclasses: a full-size import builds
millions of them and a tuple is several times cheaper to create, while staying immutable.
"""
from __future__ import annotations

from array import array
from datetime import date, datetime
from typing import NamedTuple


class MemberRecord(NamedTuple):
    """One member as the platform describes them; undated lifetime counters may be None."""

    external_id: str
    display_name: str
    email: str | None = None
    joined_at: datetime | None = None
    locale: str | None = None
    region: str | None = None
    last_active: datetime | None = None
    reported_posts: int | None = None
    reported_answers: int | None = None
    reported_accepted_solutions: int | None = None
    reported_kudos_received: int | None = None


class DayRecord(NamedTuple):
    """One member's activity on one (UTC) day: a daily rollup."""

    external_id: str
    day: date
    posts: int = 0
    answers: int = 0
    accepted_solutions: int = 0
    kudos_received: int = 0
    file: str | None = None  # where the row came from, for the error report
    line: int | None = None


class DayRows(NamedTuple):
    """Clean day rows of one file in bulk, for the csv reader's fast path.

    Each row is (external_id, ISO day 'YYYY-MM-DD', posts, answers, accepted_solutions,
    kudos_received, line): one tuple per row instead of a DayRecord, and the day kept as the
    text SQLite stores, so 2.2 million rows are not parsed into dates and formatted back.
    """

    file: str
    rows: list[tuple[str, str, int, int, int, int, int]]


class RowError(NamedTuple):
    """A row that was rejected: reported with file and line, the import goes on."""

    file: str
    line: int | None
    reason: str
    external_id: str | None = None  # the platform user the row was about, when known


class Skipped(NamedTuple):
    """A row left out on purpose (e.g. a platform's system account): counted, not an error."""

    file: str
    line: int | None
    reason: str


class DayTotals:
    """Per external_id: summed posts, answers, accepted solutions, kudos and the last day.

    Kept in arrays (about 70 bytes a member instead of ~300 for a dict of lists), as it is
    held for ~400,000 members alongside the import's other state within a flat memory budget.
    """

    __slots__ = ("slots", "posts", "answers", "accepted", "kudos", "last_day", "exact",
                 "files")

    def __init__(self) -> None:
        # exact: every row was summed, no member's rows were split up or had a day twice,
        # so the sums are what the stored days will add up to if the real pass stores
        # exactly these rows. files: (path, size, mtime) read, to notice a changed file.
        self.exact = False
        self.files: tuple = ()
        self.slots: dict[str, int] = {}
        self.posts, self.answers = array("q"), array("q")
        self.accepted, self.kudos = array("q"), array("q")
        self.last_day: list[str | None] = []  # ISO day; the strings are shared, not copied

    def __len__(self) -> int:
        return len(self.slots)

    def pop(self, external_id: str) -> tuple[int, int, int, int, str | None] | None:
        """The member's (posts, answers, accepted, kudos, last ISO day), forgotten after."""
        i = self.slots.pop(external_id, None)
        if i is None:
            return None
        return (self.posts[i], self.answers[i], self.accepted[i], self.kudos[i],
                self.last_day[i])


class ImportSetupError(Exception):
    """The set of files cannot be imported at all (missing file or column, unreadable file).

    Raised before anything is written.
    """

    def __init__(self, message: str, file: str | None = None, line: int | None = None):
        self.file, self.line, self.message = file, line, message
        where = ""
        if file:
            where = f"{file}:{line}: " if line else f"{file}: "
        super().__init__(where + message)


class ImportFileError(ImportSetupError):
    """A file turned out unreadable while importing (e.g. changed on disk); the run fails."""
