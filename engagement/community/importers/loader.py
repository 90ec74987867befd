"""The one loader every reader feeds: batched, idempotent upserts over the raw DBAPI cursor.

Members are upserted by (source, external_id) and only rewritten when a value differs,
contribution days by (member_id, day) with SET semantics, so importing the same files
twice changes nothing. Each batch is committed on its own: memory stays flat and a
killed import leaves whole batches only; re-running it completes the job. The ORM is
used for the run row only: per-row ORM work would be far too slow for 730,000 members.
"""
from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from datetime import UTC, date, datetime
from datetime import time as dtime

from flask import current_app
from sqlalchemy import Index, inspect
from sqlalchemy.orm import Session

from ...timeutil import utcnow
from ..erasure import ERASED_PREFIX, erased_external_id, erasure_key
from ..models import ContributionDay, ImportRun, Member
from ..scoring import load_weights
from .records import DayRecord, DayRows, DayTotals, MemberRecord, RowError, Skipped
from .rules import MAX_ISSUES_KEPT, Summary

# Big batches: a commit writes every page the batch touched (a dozen member indexes) to
# the WAL, so fewer, larger batches write shared index pages fewer times.
MEMBER_BATCH = 50_000
DAY_BATCH = 100_000
HEARTBEAT_SECONDS = 2.0
SQLITE_CACHE_KB = 160_000
SQLITE_REFRESH_CACHE_KB = 32_000
# Let the WAL grow to ~200 MB between checkpoints during an import (default: 4 MB): index
# pages touched by every batch are then copied into the database file once, not per batch.
SQLITE_WAL_PAGES = 50_000

# Optional member fields: a value the file does not give (None) keeps what is stored, so
# partial views of a platform (one file with e-mails, another with counters) add up.
OPTIONAL = ("email", "joined_at", "locale", "region", "reported_posts", "reported_answers",
            "reported_accepted_solutions", "reported_kudos_received")
METRICS = ("posts", "answers", "accepted_solutions", "kudos_received")

# Bulk mode (SQLite, first import into empty tables): the secondary indexes below are dropped
# before the load and rebuilt after it, as pg_restore does. Keeping a dozen B-trees sorted
# through 730,000 random-order inserts costs far more than building each one once from a
# sorted pass over the finished table. Taken from the models, so an index a migration adds
# (and the model declares: tests/integration/test_migrations.py checks they agree) is
# dropped and rebuilt too, and nothing can drift. Primary keys and the unique
# (source, external_id) constraint are constraints, not in `Table.indexes`: they stay, the
# upserts and the refresh need them.
BULK_TABLES = (Member.__table__, ContributionDay.__table__)
# Page cache while the indexes are rebuilt: SQLite's sorter keeps up to this much in memory
# before it spills to a temporary file; the largest index (display names) sorts in ~25 MB.
# Smaller than the load's cache, so the sort's memory comes out of the cache's, not on top.
SQLITE_INDEX_CACHE_KB = 64_000


def secondary_indexes() -> list[Index]:
    return sorted((ix for table in BULK_TABLES for ix in table.indexes),
                  key=lambda ix: ix.name)


def ensure_indexes(session: Session) -> list[str]:
    """Create every secondary index of members/contribution_days that is missing; commit.

    Run at the start of every import (services.run_import), so a bulk import that was
    killed between dropping and rebuilding its indexes (SIGKILL, power loss, a web worker
    that died) leaves the database without them only until the next import starts. When
    all exist this is two catalogue reads. Returns the names it created.
    """
    conn = session.connection()
    created = []
    for table in BULK_TABLES:
        present = {ix["name"] for ix in inspect(conn).get_indexes(table.name)}
        for index in sorted(table.indexes, key=lambda ix: ix.name):
            if index.name not in present:
                index.create(conn)
                created.append(index.name)
    session.commit()
    return created


class Dialect:
    """The few SQL spellings that differ between SQLite and PostgreSQL."""

    def __init__(self, name: str):
        self.name = name
        self.sqlite = name == "sqlite"
        self.ph = "?" if self.sqlite else "%s"
        self.distinct = "IS NOT" if self.sqlite else "IS DISTINCT FROM"
        self.greatest = "max" if self.sqlite else "GREATEST"
        self._dates: dict[str, date] = {}

    def ts(self, value: datetime | None):
        if value is None or not self.sqlite:
            return value
        if value.tzinfo is not UTC:
            value = value.astimezone(UTC)
        # The format SQLAlchemy's SQLite DateTime type writes (so ORM reads and comparisons
        # agree); isoformat is several times faster than strftime.
        return value.isoformat(" ", "microseconds")[:26]

    def day(self, value: date):
        return value.isoformat() if self.sqlite else value

    def iso_day(self, text: str):
        """A day column value from canonical ISO text (SQLite stores that very text)."""
        if self.sqlite:
            return text
        value = self._dates.get(text)
        if value is None:
            value = self._dates[text] = date.fromisoformat(text)
        return value

    def day_start(self, iso_day: str):
        """Midnight UTC of an ISO day, as the refresh's `day_as_ts` spells it."""
        if self.sqlite:
            return iso_day + " 00:00:00.000000"
        return datetime.combine(date.fromisoformat(iso_day), dtime(), UTC)

    def day_as_ts(self, expr: str) -> str:
        if self.sqlite:
            return f"({expr} || ' 00:00:00.000000')"
        return f"(CAST({expr} AS timestamp) AT TIME ZONE 'UTC')"


def member_upsert_sql(d: Dialect) -> str:
    """Insert with final totals, or update the file's fields when one of them differs.

    New members arrive with their lifetime totals and score already computed from the
    contribution files (see Loader), so the closing refresh finds nothing to rewrite for
    them: every write of a members row touches a dozen indexes. A member already stored
    keeps its totals here; the refresh recomputes them from all their stored days.
    """
    cols = ("source", "external_id", "display_name", "last_active", *OPTIONAL,
            *METRICS, "score", "created_at", "updated_at")
    values = [d.ph] * (4 + len(OPTIONAL) + len(METRICS) + 3)
    sets = ["display_name = excluded.display_name"]
    differs = [f"members.display_name {d.distinct} excluded.display_name"]
    for col in OPTIONAL:
        sets.append(f"{col} = COALESCE(excluded.{col}, members.{col})")
        differs.append(
            f"(excluded.{col} IS NOT NULL AND members.{col} {d.distinct} excluded.{col})")
    # last_active only moves forward: the refresh may already have set it from later activity.
    newer = ("(excluded.last_active IS NOT NULL AND (members.last_active IS NULL"
             " OR excluded.last_active > members.last_active))")
    sets.append(f"last_active = CASE WHEN {newer} THEN excluded.last_active"
                " ELSE members.last_active END")
    differs.append(newer)
    sets.append("updated_at = excluded.updated_at")
    return (f"INSERT INTO members ({', '.join(cols)}) VALUES ({', '.join(values)}) "
            f"ON CONFLICT (source, external_id) DO UPDATE SET {', '.join(sets)} "
            f"WHERE {' OR '.join(differs)}")


def day_upsert_sql(d: Dialect) -> str:
    sets = ", ".join(f"{m} = excluded.{m}" for m in METRICS)
    differs = " OR ".join(f"contribution_days.{m} <> excluded.{m}" for m in METRICS)
    return (f"INSERT INTO contribution_days (member_id, day, {', '.join(METRICS)}) "
            f"VALUES ({', '.join([d.ph] * 6)}) "
            f"ON CONFLICT (member_id, day) DO UPDATE SET {sets} WHERE {differs}")


def refresh_totals_sql(d: Dialect, score_sql: str) -> str:
    """Materialised lifetime totals = max(reported, sum of days), plus last_active and score."""
    ph = d.ph
    totals = ", ".join(
        f"{d.greatest}(COALESCE(m.reported_{m_}, 0), COALESCE(s.{m_}, 0)) AS {m_}"
        for m_ in METRICS)
    last_day = d.day_as_ts("s.last_day")
    last_active = (f"CASE WHEN s.last_day IS NULL THEN m.last_active "
                   f"WHEN m.last_active IS NULL OR m.last_active < {last_day} THEN {last_day} "
                   f"ELSE m.last_active END AS last_active")
    sums = ", ".join(f"SUM(cd.{m_}) AS {m_}" for m_ in METRICS)
    changed = " OR ".join(f"members.{c} {d.distinct} t.{c}"
                          for c in (*METRICS, "score", "last_active"))
    assignments = ", ".join(f"{c} = t.{c}" for c in (*METRICS, "score", "last_active"))
    return (
        f"UPDATE members SET {assignments} "
        f"FROM (SELECT x.*, {score_sql} AS score FROM ("
        f"SELECT m.id AS id, {totals}, {last_active} FROM members m LEFT JOIN ("
        f"SELECT cd.member_id AS member_id, {sums}, MAX(cd.day) AS last_day "
        f"FROM contribution_days cd JOIN members mm ON mm.id = cd.member_id "
        f"WHERE mm.source = {ph} GROUP BY cd.member_id) s ON s.member_id = m.id "
        f"WHERE m.source = {ph}) x) t "
        f"WHERE members.id = t.id AND ({changed})"
    )


class Loader:
    """Consumes a reader's records, writes them batch by batch, keeps the run's counts."""

    def __init__(self, session: Session, run: ImportRun, source: str, *,
                 progress: Callable[[int, int], None] | None = None,
                 member_batch: int = MEMBER_BATCH, day_batch: int = DAY_BATCH,
                 clock: Callable[[], datetime] = utcnow):
        self.session, self.run, self.source = session, run, source
        self.run_id = run.id
        self.progress, self.clock = progress, clock
        self.member_batch, self.day_batch = member_batch, day_batch
        self.d = Dialect(session.get_bind().dialect.name)
        self.member_sql, self.day_sql = member_upsert_sql(self.d), day_upsert_sql(self.d)
        if self.d.sqlite:
            # For this connection only, restored by close(). A bigger page cache: the members
            # table carries a dozen indexes, and SQLite's 2 MB default makes every batch
            # re-read index pages (new members arrive with their totals, so the indexes on
            # posts, score, last_active... take random inserts). Fewer checkpoints (see
            # SQLITE_WAL_PAGES). Durability is unchanged: WAL with synchronous=NORMAL as set
            # for every connection, and every batch is still its own committed transaction.
            for pragma in (f"cache_size = -{SQLITE_CACHE_KB}",
                           f"wal_autocheckpoint = {SQLITE_WAL_PAGES}"):
                self._cursor_rows(f"PRAGMA {pragma}", ())
        # Set by run_import for formats that can sum their days up front (the csv reader's
        # day_totals): new members are then inserted with their final totals. Only a guess:
        # refresh_totals() recomputes them from the stored days and rewrites the rows it got
        # wrong (duplicate day rows, odd rows, days stored by earlier imports).
        self.day_totals = DayTotals()
        # Ids of members this run created are loaded when first needed (load_new_ids).
        self.ids_max: int | None = None
        self.ids_behind = 0
        self.weights = load_weights(session)
        self.ids: dict[str, int] = dict(self._cursor_rows(
            f"SELECT external_id, id FROM members WHERE source = {self.d.ph}", (source,)))
        self.new_source = not self.ids
        # Platform users erased under GDPR keep only a keyed hash as external id; their rows
        # in a re-imported export are skipped. Usually empty: then no per-row cost at all.
        self.erased = {e for e in self.ids if e.startswith(ERASED_PREFIX)}
        self.erasure_key = erasure_key(current_app.config) if self.erased else ""
        self.erased_seen: set[str] = set()
        self.bulk = False  # set by begin_bulk()
        self.slow_days = 0  # day rows that came as DayRecord (not the csv fast path)
        self.totals_exact: DayTotals | None = None
        self.members: dict[str, MemberRecord] = {}
        self.days: list[tuple] = []
        self.issues: list[RowError] = []
        self.created = self.updated = self.unchanged = 0
        self.day_rows = self.days_changed = 0
        self.rejected = self.issues_kept = self.skipped = 0
        self.skipped_reasons: dict[str, int] = {}
        self.bytes_done, self.bytes_total = 0, run.bytes_total
        self._last_beat = time.monotonic()

    # -- bulk mode ----------------------------------------------------------------------
    def bulk_wanted(self) -> bool:
        """SQLite, and both tables empty: nothing to keep indexed while the load runs.

        Only into empty tables: rebuilding an index over rows stored before would cost
        more than the load saves, and a web request reading members meanwhile would scan
        them all. PostgreSQL keeps its indexes (the load there is not index-bound enough
        to be worth the exclusive locks DROP INDEX takes).
        """
        if not self.d.sqlite:
            return False
        rows = self._cursor_rows("SELECT EXISTS (SELECT 1 FROM members) "
                                 "OR EXISTS (SELECT 1 FROM contribution_days)", ())
        return not rows[0][0]

    def begin_bulk(self) -> bool:
        """Drop the secondary indexes when bulk_wanted(); committed, so the load runs without.

        From here until end_bulk() the tables have no secondary indexes; should the
        process die in between, the next import's ensure_indexes() rebuilds them.
        """
        if not self.bulk_wanted():
            return False
        conn = self.session.connection()
        for index in secondary_indexes():
            index.drop(conn, checkfirst=True)
        self.session.commit()
        self.bulk = True
        return True

    def end_bulk(self) -> None:
        """Rebuild the dropped indexes (one sorted build each), then refresh the statistics."""
        if not self.bulk:
            return
        # Commit the refresh first: the index builds and ANALYZE are their own transaction.
        self.session.commit()
        self._cursor_rows(f"PRAGMA cache_size = -{SQLITE_INDEX_CACHE_KB}", ())
        ensure_indexes(self.session)
        # The planner's statistics for the new indexes; analysis_limit samples a bounded
        # number of rows per index, so this takes well under a second at full size.
        cur = self._cursor()
        cur.execute("PRAGMA analysis_limit = 1000")
        for table in BULK_TABLES:
            cur.execute(f"ANALYZE {table.name}")
        cur.execute("PRAGMA analysis_limit = 0")
        cur.close()
        self.session.commit()
        self.bulk = False

    # -- the stream ---------------------------------------------------------------------
    def load(self, records: Iterable) -> None:
        ids, days, day_batch = self.ids, self.days, self.day_batch
        ts_day = self.d.day
        for rec in records:
            kind = type(rec)
            if kind is DayRecord:
                self.slow_days += 1
                if self.members:
                    self.flush_members()
                member_id = ids.get(rec.external_id)
                if member_id is None and self.ids_behind:
                    self.load_new_ids()
                    member_id = ids.get(rec.external_id)
                if member_id is None:
                    if rec.external_id in self.erased_seen:
                        self._skip("erased member")
                        continue
                    self._reject(RowError(rec.file or "", rec.line,
                                          f"no member with external_id {rec.external_id!r}",
                                          rec.external_id))
                    continue
                days.append((member_id, ts_day(rec.day), rec.posts, rec.answers,
                             rec.accepted_solutions, rec.kudos_received))
                if len(days) >= day_batch:
                    self.flush_days()
            elif kind is DayRows:
                if self.members:
                    self.flush_members()
                self._add_day_rows(rec)
                while len(days) >= day_batch:
                    self.flush_days()
            elif kind is MemberRecord:
                if self.erased and self._is_erased(rec.external_id):
                    continue
                self.members[rec.external_id] = rec  # a later row for the same id wins
                if len(self.members) >= self.member_batch:
                    self.flush_members()
            elif kind is RowError:
                self._reject(rec)
            elif kind is Skipped:
                self._skip(rec.reason)
            else:
                raise TypeError(f"reader yielded {kind.__name__}")
        self.flush_members()
        self.flush_days()
        if self.issues:
            self._commit_batch()

    def _add_day_rows(self, rec: DayRows) -> None:
        get, append = self.ids.get, self.days.append
        day_value = None if self.d.sqlite else self.d.iso_day  # SQLite stores the text
        for external_id, day, p, a, s, k, line in rec.rows:
            member_id = get(external_id)
            if member_id is None:
                if self.ids_behind:
                    self.load_new_ids()
                    member_id = get(external_id)
                if member_id is None:
                    if external_id in self.erased_seen:
                        self._skip("erased member")
                        continue
                    self._reject(RowError(rec.file, line,
                                          f"no member with external_id {external_id!r}",
                                          external_id))
                    continue
            append((member_id, day if day_value is None else day_value(day), p, a, s, k))

    def _skip(self, reason: str) -> None:
        self.skipped += 1
        self.skipped_reasons[reason] = self.skipped_reasons.get(reason, 0) + 1

    def _is_erased(self, external_id: str) -> bool:
        """A platform user erased under GDPR: skip them and their contribution rows."""
        if external_id in self.erased_seen:
            self._skip("erased member")
            return True
        if erased_external_id(self.erasure_key, self.source, external_id) in self.erased:
            self.erased_seen.add(external_id)
            self._skip("erased member")
            return True
        return False

    def _reject(self, error: RowError) -> None:
        self.rejected += 1
        if self.issues_kept + len(self.issues) < MAX_ISSUES_KEPT:
            self.issues.append(error)

    # -- batches ------------------------------------------------------------------------
    def _cursor(self):
        return self.session.connection().connection.cursor()

    def _cursor_rows(self, sql: str, params: tuple) -> list[tuple]:
        cur = self._cursor()
        cur.execute(sql, params)
        rows = cur.fetchall()
        cur.close()
        return rows

    def flush_members(self) -> None:
        if not self.members:
            return
        records, self.members = list(self.members.values()), {}
        ph, ts, now = self.d.ph, self.d.ts, self.d.ts(self.clock())
        ids, pop, day_start = self.ids, self.day_totals.pop, self.d.day_start
        source, score = self.source, self.weights.score
        rows = []
        append = rows.append
        # One tight loop: it runs 730,000 times in a full import.
        for (external_id, display_name, email, joined_at, locale, region, last_active,
             rp, ra, rs, rk) in records:
            if last_active is not None:
                last_active = ts(last_active)
            if joined_at is not None:
                joined_at = ts(joined_at)
            p, a, s, k = rp or 0, ra or 0, rs or 0, rk or 0
            # A member stored already keeps its totals here (the refresh recomputes them);
            # a new one gets max(reported, its days' sums) and its last day of activity.
            t = None if external_id in ids else pop(external_id)
            if t is not None:
                tp, ta, tsol, tk, tday = t
                if tp > p:
                    p = tp
                if ta > a:
                    a = ta
                if tsol > s:
                    s = tsol
                if tk > k:
                    k = tk
                if tday is not None:
                    last_day = day_start(tday)
                    if last_active is None or last_active < last_day:
                        last_active = last_day
            append((source, external_id, display_name, last_active, email, joined_at, locale,
                    region, rp, ra, rs, rk, p, a, s, k, score(p, a, s, k), now, now))
        del records
        cur = self._cursor()
        cur.execute("SELECT COALESCE(MAX(id), 0) FROM members")
        before_max = cur.fetchone()[0]
        if self.ids_max is None:
            self.ids_max = before_max
        cur.executemany(self.member_sql, rows)
        changed = cur.rowcount
        # New rows get ids above the previous maximum (SQLite rowids, PostgreSQL sequences);
        # counting them is a range scan of this batch's rows, still in the page cache.
        cur.execute(f"SELECT count(*) FROM members WHERE id > {ph} AND source = {ph}",
                    (before_max, self.source))
        created = cur.fetchone()[0]
        cur.close()
        # Their ids are read once, when a contribution row needs one (load_new_ids).
        self.ids_behind += created
        updated = max(0, changed - created) if changed >= 0 else 0
        self.created += created
        self.updated += updated
        self.unchanged += len(rows) - created - updated
        self._commit_batch()

    def load_new_ids(self) -> None:
        """Add the ids of members created since the last look-up (one range scan)."""
        ph = self.d.ph
        # Members come before their days: the guesses have served (their memory is needed).
        if self.day_totals.exact:
            self.totals_exact = self.day_totals  # the flag and file stamps, for the refresh
        self.day_totals = DayTotals()
        cur = self._cursor()
        cur.execute(f"SELECT external_id, id FROM members WHERE id > {ph} AND source = {ph}",
                    (self.ids_max, self.source))
        found = 0
        for external_id, member_id in cur:  # streamed: no list of 730,000 tuples
            self.ids[external_id] = member_id
            found += 1
            if member_id > self.ids_max:
                self.ids_max = member_id
        if found < self.ids_behind:
            # Some new row got an id below the range (another writer's sequence values):
            # read the source's ids in full, once.
            cur.execute(f"SELECT external_id, id FROM members WHERE source = {ph}",
                        (self.source,))
            self.ids.update(cur)
        cur.close()
        self.ids_behind = 0

    def flush_days(self) -> None:
        if not self.days:
            return
        # Exactly day_batch rows (DayRows arrive in chunks); in place: load() holds this list.
        rows = self.days[:self.day_batch]
        del self.days[:self.day_batch]
        cur = self._cursor()
        cur.executemany(self.day_sql, rows)
        self.days_changed += max(0, cur.rowcount)
        cur.close()
        self.day_rows += len(rows)
        self._commit_batch()

    def _commit_batch(self) -> None:
        """Write kept issues and the run's progress, then commit: one atomic batch."""
        if self.issues:
            issues, self.issues = self.issues, []
            ph = self.d.ph
            cur = self._cursor()
            cur.executemany(
                "INSERT INTO import_issues (run_id, file, line, reason, external_id) "
                f"VALUES ({ph}, {ph}, {ph}, {ph}, {ph})",
                [(self.run_id, e.file[:255], e.line, e.reason,
                  e.external_id[:64] if e.external_id else None) for e in issues])
            cur.close()
            self.issues_kept += len(issues)
        self.write_progress()
        self.session.commit()
        self._last_beat = time.monotonic()

    def write_progress(self) -> None:
        run = self.run
        run.heartbeat_at = self.clock()
        run.bytes_done = self.bytes_done
        run.members_created, run.members_updated = self.created, self.updated
        run.members_unchanged, run.contribution_rows = self.unchanged, self.day_rows
        run.rows_rejected = self.rejected
        run.rows_skipped = self.skipped

    def on_bytes(self, done: int, total: int) -> None:
        """Progress hook of the readers' byte counter: UI heartbeat and the CLI bar."""
        self.bytes_done = done
        if self.progress is not None:
            self.progress(done, total)
        # Between batches nothing is pending in the session, so a heartbeat commit is safe;
        # it keeps long read-only passes (Stack Exchange) from looking interrupted.
        if time.monotonic() - self._last_beat > HEARTBEAT_SECONDS:
            self._commit_batch()

    # -- the end ------------------------------------------------------------------------
    def refresh_totals(self) -> int:
        """Recompute the source's materialised totals in one set-based statement.

        Returns how many members it rewrote: none when the members this run created were
        written with the right totals and nothing else changed.
        """
        weights = load_weights(self.session)
        if self._totals_known_right(weights):
            return 0
        score = weights.sql(prefix="x.")
        if self.d.sqlite:
            # The statement materialises a row per member: give it the room of the page
            # cache, which a read pass gains little from, so memory stays within budget.
            self._cursor_rows(f"PRAGMA cache_size = -{SQLITE_REFRESH_CACHE_KB}", ())
        cur = self._cursor()
        cur.execute(refresh_totals_sql(self.d, score), (self.source, self.source))
        rewritten = max(0, cur.rowcount)
        cur.close()
        return rewritten

    def _totals_known_right(self, weights) -> bool:
        """Whether every member of the source got the refresh's values on insert already.

        Holds for a first import of a source whose contribution rows were summed exactly
        (all rows clean and taken by the fast path, each member's days together and
        distinct, files unchanged since) and whose members were each inserted once: no
        member or day of the source existed before, none was updated, no row rejected,
        and the score weights are still those the totals were scored with. Anything else
        runs the refresh, which is always right.
        """
        totals = self.totals_exact
        if not (totals is not None and totals.exact and self.new_source and self.slow_days == 0
                and self.rejected == 0 and self.updated == 0 and self.unchanged == 0
                and weights == self.weights):
            return False
        try:
            return all(path.stat().st_size == size and path.stat().st_mtime_ns == mtime
                       for path, size, mtime in totals.files) and bool(totals.files)
        except OSError:
            return False

    def close(self) -> None:
        """Give the connection back with SQLite's default page cache."""
        self.day_totals = DayTotals()
        if self.d.sqlite:
            self.session.rollback()
            for pragma in ("cache_size = -2000", "wal_autocheckpoint = 1000"):
                self._cursor_rows(f"PRAGMA {pragma}", ())

    def summary(self, fmt: str, seconds: float) -> Summary:
        reasons = tuple(f"{reason}" if n == 1 else f"{n:,}× {reason}"
                        for reason, n in sorted(self.skipped_reasons.items()))
        return Summary(fmt=fmt, created=self.created, updated=self.updated,
                       unchanged=self.unchanged, days=self.day_rows, skipped=self.skipped,
                       skipped_reasons=reasons, rejected=self.rejected, seconds=seconds)
