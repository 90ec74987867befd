"""Retention of sign-in data: login attempts and sign-in links (addresses, client IPs)."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from .models import LoginAttempt
from .signin.links import MagicLink


def attempts_held(session: Session) -> tuple[int, datetime | None]:
    """Login attempts held, and the earliest one."""
    count, first = session.execute(select(func.count(LoginAttempt.id),
                                          func.min(LoginAttempt.at))).one()
    return count or 0, first


def attempts_due(session: Session, before: datetime) -> int:
    return session.scalar(select(func.count(LoginAttempt.id))
                          .where(LoginAttempt.at < before)) or 0


def purge_attempts(session: Session, before: datetime) -> int:
    """Delete login attempts made before `before` (flush only); returns how many."""
    return session.execute(delete(LoginAttempt).where(LoginAttempt.at < before)).rowcount or 0


def links_held(session: Session) -> tuple[int, datetime | None]:
    """Sign-in links held, and the earliest expiry among them."""
    count, first = session.execute(select(func.count(MagicLink.id),
                                          func.min(MagicLink.expires_at))).one()
    return count or 0, first


def links_due(session: Session, expired_before: datetime) -> int:
    return session.scalar(select(func.count(MagicLink.id))
                          .where(MagicLink.expires_at < expired_before)) or 0


def purge_links(session: Session, expired_before: datetime) -> int:
    """Delete sign-in links (used or not) that expired before `expired_before`."""
    return session.execute(delete(MagicLink)
                           .where(MagicLink.expires_at < expired_before)).rowcount or 0
