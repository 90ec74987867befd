"""CSV reader: members.csv and contributions.csv (UTF-8 with or without BOM, `,` or `;`)."""
from __future__ import annotations

import csv
import io
from collections.abc import Container, Iterator
from datetime import date
from pathlib import Path

from ..records import (
    DayRecord,
    DayRows,
    DayTotals,
    ImportFileError,
    ImportSetupError,
    MemberRecord,
    RowError,
)
from ..rules import clean_member, detect_delimiter, parse_count, parse_day, parse_timestamp
from .base import ByteCounter, Plan, check_utf8, expand, open_counted

MEMBER_REQUIRED = ("external_id", "display_name")
MEMBER_OPTIONAL = ("email", "joined_at", "locale", "region", "last_active", "reported_posts",
                   "reported_answers", "reported_accepted_solutions", "reported_kudos_received")
DAY_COLUMNS = ("external_id", "day", "posts", "answers", "accepted_solutions", "kudos_received")
KNOWN_NAMES = ("members.csv", "contributions.csv")
# day_totals() gives up beyond this many members (~100 MB): the refresh then does it all.
DAY_TOTALS_LIMIT = 1_500_000
DAY_CHUNK = 5000  # clean day rows per DayRows value
MAX_COUNT = 2**31 - 1  # larger counts cannot be stored; the real pass reports them


def _header(path: Path) -> tuple[list[str], str]:
    with open(path, "rb") as fh:
        first = fh.readline()
    text = first.decode("utf-8-sig").rstrip("\r\n")  # UTF-8 was checked before
    if not text.strip():
        raise ImportSetupError("the file is empty or has no header line", file=path.name, line=1)
    delimiter = detect_delimiter(text)
    names = next(csv.reader([text], delimiter=delimiter))
    return [n.strip().lower() for n in names], delimiter


def _role(path: Path, header: list[str]) -> str:
    if "day" in header or path.name.lower().startswith("contributions"):
        return "contributions"
    if "display_name" in header or path.name.lower().startswith("members"):
        return "members"
    raise ImportSetupError(
        "neither a members file (external_id, display_name, …) nor a contributions file "
        f"(external_id, day, …); header: {', '.join(header)}", file=path.name, line=1)


def plan(paths: list[Path]) -> Plan:
    """Check every file (encoding, header, required columns) before anything is written."""
    files = expand(paths, lambda p: p.name.lower() in KNOWN_NAMES)
    if not files:
        raise ImportSetupError("no members.csv or contributions.csv found in "
                               + ", ".join(str(p) for p in paths))
    roles: dict[Path, str] = {}
    for path in files:
        check_utf8(path)
        header, _delimiter = _header(path)
        role = _role(path, header)
        required = MEMBER_REQUIRED if role == "members" else DAY_COLUMNS
        missing = [c for c in required if c not in header]
        if missing:
            raise ImportSetupError(
                f"{role} file lacks the column(s) {', '.join(missing)}; "
                f"expected {', '.join(required)}", file=path.name, line=1)
        roles[path] = role
    # Members first, so contribution rows find the members they belong to.
    ordered = tuple(sorted(files, key=lambda p: (roles[p] != "members", str(p))))
    return Plan(files=ordered, total_bytes=sum(p.stat().st_size for p in files), roles=roles)


def read(plan: Plan, counter: ByteCounter) -> Iterator:
    for path in plan.files:
        if plan.roles[path] == "members":
            yield from _read_members(path, counter)
        else:
            yield from _read_days(path, counter)


def _open(path: Path, counter: ByteCounter):
    header, delimiter = _header(path)
    text = io.TextIOWrapper(open_counted(path, counter), encoding="utf-8-sig", newline="")
    reader = csv.reader(text, delimiter=delimiter)
    next(reader)
    return text, reader, header


def _read_members(path: Path, counter: ByteCounter) -> Iterator:
    name = path.name
    text, reader, header = _open(path, counter)
    fields = (*MEMBER_REQUIRED, *MEMBER_OPTIONAL)
    index = tuple(header.index(c) if c in header else -1 for c in fields)
    width = len(header)
    with text:
        try:
            for row in reader:
                if not row:
                    continue
                if len(row) != width:
                    yield RowError(name, reader.line_num,
                                   f"expected {width} fields, found {len(row)}")
                    continue
                try:
                    yield clean_member(_member([row[i] if i >= 0 else None for i in index]))
                except ValueError as exc:
                    # Its external_id (first field) lets an erasure find the issue.
                    yield RowError(name, reader.line_num, str(exc),
                                   row[index[0]].strip()[:64] or None)
        except (UnicodeDecodeError, csv.Error) as exc:
            raise ImportFileError(f"unreadable near line {reader.line_num}: {exc}",
                                  file=name) from None


def _reported(value: str | None, field: str) -> int | None:
    return parse_count(value, field) if value is not None and value.strip() else None


def _member(v: list[str | None]) -> MemberRecord:
    """A member from the cells in MEMBER_REQUIRED + MEMBER_OPTIONAL order (None: no column).

    The cells are str or None, so clean_text's rule (stripped, cut to the column, empty is
    None) is spelled inline: this runs 730,000 times in a full import.
    """
    (external_id, display_name, email, joined_at, locale, region, last_active,
     r_posts, r_answers, r_accepted, r_kudos) = v
    external_id = external_id.strip() if external_id else ""
    if not external_id:
        raise ValueError("external_id is empty")
    if len(external_id) > 64:
        raise ValueError("external_id is longer than 64 characters")
    display_name = display_name.strip()[:255] if display_name else ""
    if not display_name:
        raise ValueError("display_name is empty")
    return MemberRecord(
        external_id, display_name,
        (email.strip()[:255] or None) if email else None,
        parse_timestamp(joined_at, "joined_at") if joined_at else None,
        (locale.strip()[:16] or None) if locale else None,
        (region.strip()[:64] or None) if region else None,
        parse_timestamp(last_active, "last_active") if last_active else None,
        _reported(r_posts, "reported_posts") if r_posts else None,
        _reported(r_answers, "reported_answers") if r_answers else None,
        _reported(r_accepted, "reported_accepted_solutions") if r_accepted else None,
        _reported(r_kudos, "reported_kudos_received") if r_kudos else None,
    )


def file_stamps(plan: Plan) -> tuple:
    """(path, size, mtime) of the contribution files: equal stamps, same contents read."""
    try:
        return tuple((p, p.stat().st_size, p.stat().st_mtime_ns) for p in plan.files
                     if plan.roles[p] == "contributions")
    except OSError:
        return ()


def day_totals(plan: Plan, known: Container[str] = (),
               limit: int = DAY_TOTALS_LIMIT) -> DayTotals | None:
    """The clean day rows summed per external_id, leaving out members in `known`.

    A quick first pass over the contribution files, so the loader can insert new members
    with their final totals instead of writing every row a second time in the refresh.
    Rows that are not clean are left out and a day listed twice is added up, so the sums
    are a guess the refresh corrects; `exact` says no such row (and no member split over
    the file) was seen. Members already stored (`known`) are skipped: the refresh
    recomputes them anyway. None when more than `limit` members are in the files: memory
    stays bounded, the refresh then does all the work.
    """
    totals = DayTotals()
    slots = totals.slots
    posts, answers, accepted, kudos = totals.posts, totals.answers, totals.accepted, totals.kudos
    last_day = totals.last_day
    days: dict[str, str] = {}  # one string object per distinct day
    exact = True
    stamps = file_stamps(plan)  # before reading: a change while reading shows later

    def add(external_id: str, p: int, a: int, s: int, k: int, day: str) -> bool:
        nonlocal exact
        slot = slots.get(external_id)
        if slot is None:
            if external_id in known:
                exact = False
                return True
            if len(slots) >= limit:
                return False
            slots[external_id] = len(posts)
            posts.append(p)
            answers.append(a)
            accepted.append(s)
            kudos.append(k)
            last_day.append(days.setdefault(day, day))
        else:
            exact = False  # the member's rows are not together: a day may come twice
            posts[slot] += p
            answers[slot] += a
            accepted[slot] += s
            kudos[slot] += k
            if day > last_day[slot]:
                last_day[slot] = days.setdefault(day, day)
        return True

    for path in plan.files:
        if plan.roles[path] != "contributions":
            continue
        # Exports list a member's days together: sum a run of rows locally, store it once.
        run_id, rp, ra, rs, rk, rday = None, 0, 0, 0, 0, ""
        run_days: set[str] = set()
        try:
            header, delimiter = _header(path)
            i_ext, i_day, i_p, i_a, i_s, i_k = (header.index(c) for c in DAY_COLUMNS)
            width = len(header)
            with open(path, encoding="utf-8-sig", newline="") as fh:
                reader = csv.reader(fh, delimiter=delimiter)
                next(reader)
                for row in reader:
                    if len(row) != width:
                        exact = False
                        continue
                    try:
                        p, a, s, k = int(row[i_p]), int(row[i_a]), int(row[i_s]), int(row[i_k])
                    except ValueError:
                        exact = False
                        continue
                    day = row[i_day]
                    if (p < 0 or a < 0 or s < 0 or k < 0 or len(day) != 10
                            or p + a + s + k > MAX_COUNT):
                        exact = False
                        continue
                    external_id = row[i_ext].strip()
                    if external_id == run_id:
                        if day in run_days:
                            exact = False
                        else:
                            run_days.add(day)
                        rp += p
                        ra += a
                        rs += s
                        rk += k
                        if day > rday:
                            rday = day
                        continue
                    if run_id is not None and not add(run_id, rp, ra, rs, rk, rday):
                        return None
                    run_id, rp, ra, rs, rk, rday = external_id, p, a, s, k, day
                    run_days = {day}
        except (OSError, ValueError, StopIteration, csv.Error):
            return None  # the real pass reports a file that changed or broke meanwhile
        if run_id is not None and not add(run_id, rp, ra, rs, rk, rday):
            return None
    # ISO order is date order; a day that is not ISO leaves the last day to the refresh.
    iso: dict[str | None, str | None] = {}
    for day in days:
        try:
            iso[day] = date.fromisoformat(day).isoformat()
        except ValueError:
            iso[day] = None
            exact = False
    totals.last_day = [iso[d] for d in last_day]
    totals.exact = exact
    totals.files = stamps
    return totals


def _read_days(path: Path, counter: ByteCounter) -> Iterator:
    name = path.name
    text, reader, header = _open(path, counter)
    i_ext, i_day, i_p, i_a, i_s, i_k = (header.index(c) for c in DAY_COLUMNS)
    width = len(header)
    fromiso = date.fromisoformat
    iso_days: set[str] = set()  # day texts seen to be canonical ISO dates
    chunk: list[tuple] = []
    with text:
        try:
            for row in reader:
                # Fast path for the common clean row, collected into DayRows; anything odd
                # goes the careful way, after the rows before it (a later row wins).
                try:
                    if len(row) != width:
                        raise ValueError
                    p, a, s, k = int(row[i_p]), int(row[i_a]), int(row[i_s]), int(row[i_k])
                    external_id, day = row[i_ext], row[i_day]
                    if p < 0 or a < 0 or s < 0 or k < 0 or not 0 < len(external_id) <= 64:
                        raise ValueError
                    if day not in iso_days:
                        if len(day) != 10 or day[4] != "-" or day[7] != "-":
                            raise ValueError
                        fromiso(day)
                        iso_days.add(day)
                    chunk.append((external_id.strip(), day, p, a, s, k, reader.line_num))
                    if len(chunk) >= DAY_CHUNK:
                        yield DayRows(name, chunk)
                        chunk = []
                    continue
                except ValueError:
                    pass
                if chunk:
                    yield DayRows(name, chunk)
                    chunk = []
                if len(row) != width:
                    if row:
                        yield RowError(name, reader.line_num,
                                       f"expected {width} fields, found {len(row)}")
                    continue
                try:
                    external_id = row[i_ext].strip()
                    if not external_id:
                        raise ValueError("external_id is empty") from None
                    if len(external_id) > 64:
                        raise ValueError("external_id is longer than 64 characters")
                    yield DayRecord(
                        external_id, parse_day(row[i_day]),
                        parse_count(row[i_p], "posts"), parse_count(row[i_a], "answers"),
                        parse_count(row[i_s], "accepted_solutions"),
                        parse_count(row[i_k], "kudos_received"), name, reader.line_num)
                except ValueError as exc:
                    yield RowError(name, reader.line_num, str(exc))
        except (UnicodeDecodeError, csv.Error) as exc:
            raise ImportFileError(f"unreadable near line {reader.line_num}: {exc}",
                                  file=name) from None
    if chunk:
        yield DayRows(name, chunk)
