"""Tables for users, API tokens and login attempts."""
from __future__ import annotations

from datetime import datetime

from flask_login import UserMixin
from sqlalchemy import Boolean, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from ..timeutil import UTCDateTime, utcnow


class User(UserMixin, db.Model):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    email: Mapped[str] = mapped_column(String(255), unique=True)
    name: Mapped[str] = mapped_column(String(255), default="")
    password_hash: Mapped[str | None] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16))
    locale: Mapped[str | None] = mapped_column(String(8))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    member_id: Mapped[int | None] = mapped_column(
        ForeignKey("members.id", ondelete="SET NULL"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Part of the id in session and remember cookies; bumping it ends every older session.
    session_version: Mapped[int] = mapped_column(Integer, default=0, server_default="0")

    member = relationship("Member", lazy="joined")

    @property
    def is_active(self) -> bool:  # Flask-Login refuses inactive users
        return self.active

    def get_id(self) -> str:
        """Flask-Login's id for cookies: "<user id>:<session version>" (see `session_id`)."""
        return session_id(self.id, self.session_version)

    def __repr__(self) -> str:
        return f"<User {self.email} {self.role}>"


def session_id(user_id: int, version: int) -> str:
    """The id a session cookie carries; version 0 is written as the bare user id."""
    # Bare ids are what cookies held before versions existed; they mean version 0.
    return str(user_id) if version == 0 else f"{user_id}:{version}"


def parse_session_id(text: str) -> tuple[int, int] | None:
    """(user id, version) from a cookie's id, None when it is garbled."""
    user_part, _, version_part = str(text).partition(":")
    try:
        user_id, version = int(user_part), int(version_part or "0")
    except ValueError:
        return None
    return (user_id, version) if user_id > 0 and version >= 0 else None


class ApiToken(db.Model):
    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100), info={"free_text": True})
    # Only a SHA-256 of the token is kept; the prefix lets people recognise it in the UI.
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(12))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    user = relationship("User", lazy="joined")


class LoginAttempt(db.Model):
    __tablename__ = "login_attempts"
    __table_args__ = (
        Index("ix_login_attempts_email_at", "email", "at"),
        Index("ix_login_attempts_ip_at", "ip", "at"),
        Index("ix_login_attempts_device_at", "device", "at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    email: Mapped[str] = mapped_column(String(255))
    ip: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    success: Mapped[bool] = mapped_column(Boolean)
    # Digest of the device cookie the client showed for this address (None: unknown client).
    device: Mapped[str | None] = mapped_column(String(64))
