"""Magic sign-in links for members: single use, expiring, rate limited, stored hashed.

Who gets a link (everyone else gets the same neutral answer and no mail):
- an active user with the `member` role and that e-mail address, or
- a member record with exactly that address that is invited to at least one event, when no
  user has the address yet. Accounts sits below community and events, so it asks the
  feature that knows invitations through a `MemberResolver` registered per app
  (`register_member_resolver`); without one only existing users get links.
  The `member` user is created only when the link is used, so nobody gets an account
  from a mere request: clicking proves they own the mailbox.
Staff accounts (admin, manager, hr) never sign in by link; they keep password + throttle.
"""
from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import Flask, current_app
from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy import ForeignKey, Index, Integer, String, delete, func, select, update
from sqlalchemy.orm import Mapped, Session, mapped_column

from ... import signing
from ...extensions import db
from ...mail import outbox
from ...mail.compose import build_message
from ...mail.language import configured_mail_language
from ...security import Role
from ...timeutil import UTCDateTime
from .. import services
from ..models import User
from .rules import LinkQuota, LinkQuotaExceeded, LinkState, check_quota, expiry, link_state

log = logging.getLogger(__name__)
MAIL_KIND = "magic-link"
RETENTION = timedelta(days=1)  # kept past expiry, then removed on the next request


class MagicLink(db.Model):
    __tablename__ = "magic_links"
    __table_args__ = (
        Index("ix_magic_links_email_created_at", "email", "created_at"),
        Index("ix_magic_links_ip_created_at", "ip", "created_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    email: Mapped[str] = mapped_column(String(255))
    # Exactly one of the two: an existing user, or the member whose user is made on first use.
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"),
                                                index=True)
    member_id: Mapped[int | None] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"),
                                                  index=True)
    # SHA-256 of the secret: a leaked table does not let anyone sign in.
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    ip: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class LinkInvalid(Exception):
    """The link cannot sign anyone in; `state` is "unknown", "expired", "used" or "refused"."""

    def __init__(self, state: str):
        super().__init__(f"sign-in link {state}")
        self.state = state


@dataclass(frozen=True)
class RequestOutcome:
    """What happened to a request; never shown to the requester (the answer is neutral)."""

    sent: bool
    reason: str  # "sent", "no-account", "staff", "throttled-email", "throttled-ip"


@dataclass(frozen=True)
class MemberContact:
    """A member record a sign-in link may be for: its id, language and name."""

    id: int
    locale: str | None
    display_name: str | None


@dataclass(frozen=True)
class MemberResolver:
    """How accounts finds members without importing community or events.

    `invited(session, email)`: the member with exactly this address who is invited to at
    least one event (None when there is none); `by_id(session, member_id)`: that member.
    """

    invited: Callable[[Session, str], MemberContact | None]
    by_id: Callable[[Session, int], MemberContact | None]


RESOLVER_KEY = "engagement.member_resolver"


def register_member_resolver(app: Flask, resolver: MemberResolver) -> None:
    """Let the feature that owns invitations tell accounts who may sign in by link."""
    app.extensions[RESOLVER_KEY] = resolver


def _resolver() -> MemberResolver | None:
    return current_app.extensions.get(RESOLVER_KEY)


def init_app(app: Flask) -> None:
    """Hide sign-in mails from the outbox pages: staff must not read members' links."""
    outbox.mark_confidential(MAIL_KIND)


def hash_token(token: str) -> str:
    return signing.token_digest(token)


def quota_from_config() -> LinkQuota:
    cfg = current_app.config
    return LinkQuota(per_email=int(cfg["MAGIC_LINK_MAX_PER_EMAIL"]),
                     per_ip=int(cfg["MAGIC_LINK_MAX_PER_IP"]),
                     window=timedelta(seconds=int(cfg["MAGIC_LINK_WINDOW_SECONDS"])))


def _invited_member_id(session: Session, email: str) -> int | None:
    resolver = _resolver()
    contact = resolver.invited(session, email) if resolver is not None else None
    return contact.id if contact is not None else None


def _member(session: Session, member_id: int | None) -> MemberContact | None:
    resolver = _resolver()
    if resolver is None or member_id is None:
        return None
    return resolver.by_id(session, member_id)


def _recipient(session: Session, email: str) -> tuple[User | None, int | None, str]:
    """(user, member_id, reason) for a typed address: who a link would sign in."""
    user = session.scalar(select(User).where(User.email == email))
    if user is not None:
        if user.role != Role.MEMBER:
            return None, None, "staff"
        if not user.active:
            return None, None, "no-account"
        return user, None, "ok"
    member_id = _invited_member_id(session, email)
    if member_id is None:
        return None, None, "no-account"
    return None, member_id, "ok"


def request_link(session: Session, email: str, *, ip: str, now: datetime, minutes: int,
                 quota: LinkQuota, base_url: str) -> RequestOutcome:
    """Queue a sign-in mail if the address may have one and the quota allows it (flush only)."""
    email = services.normalise_email(email)[:255]
    ip = (ip or "?")[:64]
    user, member_id, reason = _recipient(session, email)
    if reason != "ok":
        log.info("magic link not sent to %s: %s", email, reason)
        return RequestOutcome(False, reason)
    # Old links of this address are only personal data (IP) by now: drop them as we go,
    # which keeps the table small without a separate clean-up job.
    session.execute(delete(MagicLink).where(MagicLink.email == email,
                                            MagicLink.expires_at < now - RETENTION))
    since = now - quota.window
    by_email = session.scalar(select(func.count()).select_from(MagicLink).where(
        MagicLink.email == email, MagicLink.created_at > since))
    by_ip = session.scalar(select(func.count()).select_from(MagicLink).where(
        MagicLink.ip == ip, MagicLink.created_at > since))
    try:
        check_quota(by_email or 0, by_ip or 0, quota)
    except LinkQuotaExceeded as exc:
        log.warning("magic link not sent to %s from %s: quota per %s used up", email, ip,
                    exc.scope)
        return RequestOutcome(False, f"throttled-{exc.scope}")
    token = signing.random_token()
    link = MagicLink(email=email, user_id=user.id if user else None, member_id=member_id,
                     token_hash=hash_token(token), ip=ip, created_at=now,
                     expires_at=expiry(now, minutes))
    session.add(link)
    session.flush()
    member = _member(session, member_id) if user is None else None
    locale = user.locale if user is not None else (member.locale if member else None)
    outbox.enqueue(session, build_link_mail(email, f"{base_url}/login/link/{token}",
                                            minutes=minutes, locale=locale), kind=MAIL_KIND,
                   member_id=member_id if user is None else user.member_id,
                   user_id=user.id if user else None)
    return RequestOutcome(True, "sent")


def build_link_mail(to: str, url: str, *, minutes: int, locale: str | None):
    """The sign-in mail in the member's language (text and HTML)."""
    lang = configured_mail_language(locale)
    with force_locale(lang):
        subject = _("Your sign-in link")
        intro = _("Someone (hopefully you) asked to sign in to the community programme with "
                  "this address.")
        action = _("Open this link to sign in. It works once, for %(n)s minutes:", n=minutes)
        ignore = _("If you did not ask for it, ignore this mail: nobody can sign in without "
                   "the link.")
        text = f"{intro}\n\n{action}\n{url}\n\n{ignore}\n"
        html = current_app.jinja_env.get_template("accounts/magic_mail.html").render(
            subject=subject, intro=intro, action=action, ignore=ignore, url=url, lang=lang,
            button=_("Sign in"))
    return build_message(to=to, subject=subject, text=text, html=html,
                         headers={"Auto-Submitted": "auto-generated", "Content-Language": lang})


def find_link(session: Session, token: str) -> MagicLink | None:
    if not token or len(token) > 128:
        return None
    return session.scalar(select(MagicLink).where(MagicLink.token_hash == hash_token(token)))


def check_link(session: Session, token: str, now: datetime) -> MagicLink:
    """The link if it would still sign someone in; LinkInvalid otherwise (changes nothing)."""
    link = find_link(session, token)
    if link is None:
        raise LinkInvalid("unknown")
    state = link_state(link.expires_at, link.used_at, now)
    if state != LinkState.VALID:
        raise LinkInvalid(str(state))
    return link


def consume_link(session: Session, token: str, now: datetime) -> User:
    """Use the link once and return the user to sign in (created for a member on first use).

    The conditional UPDATE is the single-use guarantee: of two concurrent clicks exactly
    one changes the row; the other sees rowcount 0 and is refused.
    """
    link = check_link(session, token, now)
    result = session.execute(
        update(MagicLink).where(MagicLink.id == link.id, MagicLink.used_at.is_(None))
        .values(used_at=now).execution_options(synchronize_session=False))
    if result.rowcount != 1:
        raise LinkInvalid("used")
    session.refresh(link)
    if link.user_id is not None:
        user = session.get(User, link.user_id)
        if user is None or not user.active or user.role != Role.MEMBER:
            raise LinkInvalid("refused")
    else:
        user = session.scalar(select(User).where(User.email == link.email))
        if user is not None and (user.role != Role.MEMBER or not user.active):
            raise LinkInvalid("refused")
        if user is None:
            member = _member(session, link.member_id)
            if member is None:
                raise LinkInvalid("refused")
            user, _created = services.save_user(
                session, link.email, Role.MEMBER, name=member.display_name or "",
                member_id=member.id, locale=configured_mail_language(member.locale))
    user.last_login_at = now
    session.flush()
    return user

