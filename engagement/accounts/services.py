"""Account use cases: users, authentication with throttling, API tokens."""
from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta
from functools import cache

from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from .. import audit
from ..security import Role
from .models import ApiToken, LoginAttempt, User
from .rules import TOKEN_PREFIX, LoginThrottled, Throttle, check_throttle

MIN_PASSWORD_LENGTH = 10


class AccountError(ValueError):
    """A request about accounts that cannot be carried out (message is user-facing)."""


def normalise_email(email: str) -> str:
    return email.strip().lower()


def user_snapshot(user: User) -> dict:
    return {"email": user.email, "name": user.name, "role": user.role, "active": user.active,
            "member_id": user.member_id, "locale": user.locale}


def save_user(
    session: Session, email: str, role: str, *, name: str | None = None,
    password: str | None = None, active: bool | None = None, member_id: int | None = None,
    locale: str | None = None,
) -> tuple[User, bool]:
    """Create the user or update the given fields; returns (user, created)."""
    email = normalise_email(email)
    if "@" not in email or len(email) > 255:
        raise AccountError(f"not an e-mail address: {email!r}")
    try:
        role = Role(role).value
    except ValueError:
        raise AccountError(f"unknown role {role!r}; choose one of {', '.join(Role)}") from None
    user = session.scalar(select(User).where(User.email == email))
    created = user is None
    before = None if created else user_snapshot(user)
    if created:
        user = User(email=email, role=role, name=name or "", active=True, session_version=0)
        session.add(user)
    elif user.role != role or (active is not None and bool(active) != user.active):
        end_sessions(user)  # new rights (or none): signed-in copies must sign in again
    user.role = role
    if name is not None:
        user.name = name
    if active is not None:
        user.active = active
    if member_id is not None:
        user.member_id = member_id
    if locale is not None:
        user.locale = locale or None
    if password is not None:
        set_password(user, password)
    session.flush()
    after = user_snapshot(user)
    if created or before != after or password is not None:
        audit.record(session, "user.create" if created else "user.update", "user", user.id,
                     before, {**after, "password_changed": password is not None})
    return user, created


def set_password(user: User, password: str) -> None:
    """Set a new password and end the user's other sessions (a thief's copies too)."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AccountError(f"password must have at least {MIN_PASSWORD_LENGTH} characters")
    user.password_hash = generate_password_hash(password)
    if user.id is not None:
        end_sessions(user)


def end_sessions(user: User) -> None:
    """Make every session and "stay signed in" cookie of the user worthless (flush is the
    caller's): their id carries the old session version."""
    user.session_version = (user.session_version or 0) + 1


@cache
def _dummy_hash() -> str:
    """A hash made like real ones (same method and cost), of a password nobody knows."""
    return generate_password_hash(secrets.token_hex(16))


def _password_matches(user: User | None, password: str) -> bool:
    # Always hash once: an unknown address must take as long as a wrong password, or the
    # response time tells an attacker which addresses have accounts.
    usable = user is not None and user.active and bool(user.password_hash)
    matches = check_password_hash(user.password_hash if usable else _dummy_hash(), password)
    return usable and matches


def authenticate(
    session: Session, email: str, password: str, ip: str, now: datetime, throttle: Throttle,
    device: str | None = None,
) -> User | None:
    """Check credentials; raises LoginThrottled when over the limit, records every attempt.

    `device` names a device cookie that signed in to this address before: its failures
    count for it alone, so strangers' failures (counted per address and per client
    address) cannot lock the owner's own browser out.
    """
    email = normalise_email(email)
    since = now - throttle.window
    failed = select(LoginAttempt.at).where(LoginAttempt.at > since,
                                           LoginAttempt.success.is_(False))
    if device is not None:
        by_email = session.scalars(failed.where(LoginAttempt.email == email,
                                                LoginAttempt.device == device)).all()
        by_ip: list[datetime] = []
    else:
        by_email = session.scalars(failed.where(LoginAttempt.email == email,
                                                LoginAttempt.device.is_(None))).all()
        by_ip = session.scalars(failed.where(LoginAttempt.ip == ip)).all()
    check_throttle(list(by_email), list(by_ip), now, throttle)
    user = session.scalar(select(User).where(User.email == email))
    ok = _password_matches(user, password)
    session.add(LoginAttempt(email=email, ip=ip, at=now, success=ok, device=device))
    if ok:
        user.last_login_at = now
    session.flush()
    return user if ok else None


def person_name(session: Session, member_id: int) -> str | None:
    """The person's name from a user account linked to the member (None when unknown)."""
    name = session.scalar(select(User.name).where(User.member_id == member_id,
                                                  User.name != "").order_by(User.id).limit(1))
    return name or None


def purge_login_attempts(session: Session, older_than: datetime) -> None:
    session.execute(LoginAttempt.__table__.delete().where(LoginAttempt.at < older_than))


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def create_token(session: Session, user: User, name: str) -> tuple[ApiToken, str]:
    """Make a new API token; the plain token is returned once and never stored."""
    plain = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(user_id=user.id, name=(name or "token")[:100], token_hash=hash_token(plain),
                     prefix=plain[: len(TOKEN_PREFIX) + 6])
    session.add(token)
    session.flush()
    audit.record(session, "token.create", "api_token", token.id, None,
                 {"user": user.email, "name": token.name, "prefix": token.prefix})
    return token, plain


def user_for_token(session: Session, plain: str, now: datetime) -> User | None:
    """The active user owning this (unrevoked) token, or None."""
    if not plain.startswith(TOKEN_PREFIX):
        return None
    token = session.scalar(select(ApiToken).where(ApiToken.token_hash == hash_token(plain)))
    if token is None or token.revoked_at is not None or not token.user.active:
        return None
    # Touch at most once a minute: keeps reads cheap under bulk API use.
    if token.last_used_at is None or now - token.last_used_at > timedelta(minutes=1):
        token.last_used_at = now
    return token.user


def revoke_token(session: Session, token: ApiToken, now: datetime) -> None:
    if token.revoked_at is None:
        token.revoked_at = now
        session.flush()
        audit.record(session, "token.revoke", "api_token", token.id, None,
                     {"user": token.user.email, "name": token.name, "prefix": token.prefix})


__all__ = ["AccountError", "LoginThrottled", "authenticate", "create_token", "end_sessions",
           "revoke_token", "save_user", "user_for_token"]
