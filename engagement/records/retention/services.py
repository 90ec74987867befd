"""Retention use cases: the periods in force, what goes when, and the purge job.

The purge (`flask purge`, or `flask purge --loop` as a worker) removes every kind of data
whose period has ended: RSVP answers after the event, bodies of sent mail, login
attempts, sign-in links, import uploads and the names kept for the tax listing of
erased gift recipients. Each step is one statement with a cutoff, so running it again
removes nothing more (idempotent); runs take the write lock on one settings row first,
so two workers at once queue instead of racing (safe to run concurrently).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import update
from sqlalchemy.orm import Session

from ... import audit
from ...accounts import retention as sign_in
from ...community.importers.uploads import purge_old_uploads, uploads_held
from ...events.rsvp import retention as rsvp
from ...mail import retention as mail
from ...rewards import restriction
from ...settings import Setting, get_setting, set_setting
from ..gdpr.files import delete_mail_files, mail_file_dir
from . import rules
from .rules import Kind, Period

PERIODS_KEY = "records.retention"
RUN_KEY = "records.purge"


def current_periods(session: Session, *, upload_days: int = 0) -> dict[Kind, Period]:
    """The periods in force (changes made on the page over the defaults)."""
    return rules.periods(get_setting(session, PERIODS_KEY), upload_days=upload_days)


def save_period(session: Session, kind: Kind, *, amount: int, source: str, by: str,
                now: datetime) -> Period:
    """Change one kind's period and its source (flush only, audited)."""
    rule = rules.RULES[kind]
    if not rule.editable:
        raise rules.InvalidPeriod(f"{kind}: set by the configuration")
    rules.check_amount(kind, amount)
    source = (source or "").strip()[:500] or rule.source
    stored = dict(get_setting(session, PERIODS_KEY) or {})
    before = stored.get(kind.value)
    stored[kind.value] = {"amount": amount, "source": source,
                          "changed_at": now.isoformat(), "changed_by": by}
    set_setting(session, PERIODS_KEY, stored)
    audit.record(session, "retention.period", "setting", f"{PERIODS_KEY}.{kind.value}",
                 before=before, after={"amount": amount, "source": source})
    return current_periods(session)[kind]


@dataclass(frozen=True)
class KindStatus:
    """One row of the retention page."""

    period: Period
    held: int
    first_goes: datetime | None  # when the oldest item held goes
    due_next: int  # items the next purge removes


@dataclass(frozen=True)
class Overview:
    kinds: list[KindStatus]
    last_run: datetime | None
    last_counts: dict[str, int]
    next_run: datetime


def _last_run(session: Session) -> tuple[datetime | None, dict[str, int]]:
    value = get_setting(session, RUN_KEY) or {}
    at = value.get("at") if isinstance(value, dict) else None
    return (datetime.fromisoformat(at) if at else None,
            dict(value.get("counts") or {}) if isinstance(value, dict) else {})


def overview(session: Session, *, now: datetime, interval: timedelta, upload_days: int,
             instance_path: str | Path) -> Overview:
    """What is held per kind, when the oldest goes, and what the next purge removes."""
    last, counts = _last_run(session)
    at = rules.next_purge(last, interval, now)
    periods = current_periods(session, upload_days=upload_days)
    rows = []

    def day_kind(kind: Kind, held: tuple[int, datetime | None], due) -> None:
        period = periods[kind]
        count, first = held
        step = timedelta(days=period.amount)
        rows.append(KindStatus(period, count, first + step if first else None,
                               due(at - step) if count else 0))

    day_kind(Kind.RSVP_ANSWERS, rsvp.answers_held(session),
             lambda before: rsvp.answers_due(session, before))
    day_kind(Kind.OUTBOX_BODIES, mail.bodies_held(session),
             lambda before: mail.bodies_due(session, before))
    day_kind(Kind.LOGIN_ATTEMPTS, sign_in.attempts_held(session),
             lambda before: sign_in.attempts_due(session, before))
    day_kind(Kind.SIGNIN_LINKS, sign_in.links_held(session),
             lambda before: sign_in.links_due(session, before))
    folders = uploads_held(instance_path)
    day_kind(Kind.UPLOADS, (len(folders), folders[0] if folders else None),
             lambda before: sum(1 for changed in folders if changed < before))
    count, first = restriction.held(session)
    rows.append(KindStatus(periods[Kind.TAX_NAMES], count, first,
                           restriction.due_count(session, at) if count else 0))
    return Overview(rows, last, counts, at)


def _lock(session: Session) -> None:
    """Take the write lock on the purge's settings row (created on first use)."""
    if session.execute(update(Setting).where(Setting.key == RUN_KEY)
                       .values(key=RUN_KEY)).rowcount == 0:
        set_setting(session, RUN_KEY, {})


def purge(session: Session, *, now: datetime, upload_days: int,
          instance_path: str | Path) -> dict[str, int]:
    """Remove every kind of data whose period has ended (flush only); counts per kind.

    Files (mail files, uploads) are removed as the rows go; a rollback after that leaves
    rows whose file is already gone, which is the safe direction.
    """
    _lock(session)
    periods = current_periods(session, upload_days=upload_days)
    counts: dict[str, Any] = {}
    counts[Kind.RSVP_ANSWERS] = rsvp.purge_answers(
        session, rules.cutoff(periods[Kind.RSVP_ANSWERS], now))
    mail_ids = mail.purge_bodies(session, rules.cutoff(periods[Kind.OUTBOX_BODIES], now))
    counts[Kind.OUTBOX_BODIES] = len(mail_ids)
    counts["mail_files"] = delete_mail_files(mail_file_dir(), mail_ids)
    counts[Kind.LOGIN_ATTEMPTS] = sign_in.purge_attempts(
        session, rules.cutoff(periods[Kind.LOGIN_ATTEMPTS], now))
    counts[Kind.SIGNIN_LINKS] = sign_in.purge_links(
        session, rules.cutoff(periods[Kind.SIGNIN_LINKS], now))
    counts[Kind.UPLOADS] = purge_old_uploads(instance_path, now=now, days=upload_days)
    counts[Kind.TAX_NAMES] = restriction.purge(session, now)
    counts = {str(k): int(v) for k, v in counts.items()}
    if any(counts.values()):  # an idle run leaves no trace in the audit log
        audit.record(session, "retention.purge", "retention", None, after={"counts": counts},
                     at=now)
    set_setting(session, RUN_KEY, {"at": now.isoformat(), "counts": counts})
    return counts
