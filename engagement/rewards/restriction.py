"""Restriction of processing (GDPR Art. 18) for the gift listing of erased recipients.

§ 4 Abs. 7 EStG requires the gifts to be listed separately with the recipient's name, and
the listing is kept for the tax retention period. When such a recipient is erased, their
member row becomes a pseudonym; the name the listing needs is kept here, visible to HR
only (managers see the pseudonym), until `retain_until`, when the purge job removes it.
The erasure (records) decides who is kept and for how long; this module stores, reads
and purges.
"""
from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String, delete, func, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from ..extensions import db
from ..timeutil import UTCDateTime
from .models import Grant
from .rules import Fulfilment, GrantStatus

_CHUNK = 500


class RestrictedRecipient(db.Model):
    """The name of an erased gift recipient, kept for the tax listing only."""

    __tablename__ = "restricted_recipients"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    member_id: Mapped[int] = mapped_column(
        ForeignKey("members.id", ondelete="CASCADE"), unique=True)
    name: Mapped[str] = mapped_column(String(255))
    basis: Mapped[str] = mapped_column(String(255))  # the legal reason it is kept
    restricted_at: Mapped[datetime] = mapped_column(UTCDateTime)
    retain_until: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


def last_gift_year(session: Session, member_id: int) -> int | None:
    """The latest year with a grant to the member that the tax records count
    (approved, not cancelled); None when there is none."""
    return session.scalar(
        select(func.max(Grant.year)).where(
            Grant.member_id == member_id, Grant.status == GrantStatus.APPROVED,
            (Grant.fulfilment.is_(None)) | (Grant.fulfilment != Fulfilment.CANCELLED)))


def restrict(session: Session, member_id: int, *, name: str, basis: str, now: datetime,
             retain_until: datetime) -> RestrictedRecipient:
    """Keep `name` for the tax listing until `retain_until` (flush only)."""
    row = RestrictedRecipient(member_id=member_id, name=name[:255], basis=basis[:255],
                              restricted_at=now, retain_until=retain_until)
    session.add(row)
    session.flush()
    return row


def restricted_names(session: Session, member_ids: Iterable[int], *,
                     now: datetime) -> dict[int, str]:
    """Names kept for the tax listing, by member id (only while the retention runs).

    Only HR may be shown these: the caller checks the role.
    """
    ids = sorted(set(member_ids))
    names: dict[int, str] = {}
    for start in range(0, len(ids), _CHUNK):
        names.update(session.execute(
            select(RestrictedRecipient.member_id, RestrictedRecipient.name).where(
                RestrictedRecipient.member_id.in_(ids[start:start + _CHUNK]),
                RestrictedRecipient.retain_until > now)).all())
    return names


def due_count(session: Session, before: datetime) -> int:
    """Restricted names whose retention ends before `before`."""
    return session.scalar(select(func.count()).select_from(RestrictedRecipient)
                          .where(RestrictedRecipient.retain_until <= before)) or 0


def held(session: Session) -> tuple[int, datetime | None]:
    """How many restricted names are held, and when the next one goes."""
    count, first = session.execute(select(func.count(), func.min(
        RestrictedRecipient.retain_until)).select_from(RestrictedRecipient)).one()
    return count or 0, first


def purge(session: Session, now: datetime) -> int:
    """Remove the names whose retention has ended (flush only); returns how many."""
    return session.execute(delete(RestrictedRecipient)
                           .where(RestrictedRecipient.retain_until <= now)).rowcount or 0
