"""Programme settings that managers may change at run time (stored as JSON by key)."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, String, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from .extensions import db
from .timeutil import UTCDateTime, utcnow


class Setting(db.Model):
    __tablename__ = "settings"

    key: Mapped[str] = mapped_column(String(100), primary_key=True)
    value: Mapped[Any] = mapped_column(JSON)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


def get_setting(session: Session, key: str, default: Any = None) -> Any:
    """The stored value for `key`, or `default` when never set."""
    row = session.scalar(select(Setting).where(Setting.key == key))
    return default if row is None else row.value


def set_setting(session: Session, key: str, value: Any) -> None:
    """Store `value` under `key` (flushes; the caller commits)."""
    row = session.get(Setting, key)
    if row is None:
        session.add(Setting(key=key, value=value))
    else:
        row.value = value
    session.flush()
