"""Mails about events: invitation, update, cancellation and reminder, written to the outbox.

Each invitee gets their own message in their language (member locale de/en, English
fallback), with their personal signed link and an iCalendar part naming them as ATTENDEE.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from babel.dates import format_date, format_time
from flask import current_app
from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import Session

from .. import signing
from ..community.models import Member
from ..formatting import wall_clock
from ..mail import outbox
from ..mail.compose import build_message
from ..mail.language import configured_mail_language
from ..mail.render import Skip, register_renderer
from ..timeutil import utcnow
from .calendar.ics import Attendee, build_calendar
from .models import ACTIVE_STATUSES, Event, Invitation
from .rules import google_calendar_url, location_text

KINDS = ("invitation", "update", "cancel", "reminder")


@dataclass(frozen=True)
class Recipient:
    """What a mail needs about one invitee (loaded in bulk, not as ORM objects)."""

    invitation_id: int
    nonce: str
    status: str
    name: str
    email: str
    locale: str | None


def make_token(invitation_id: int, nonce: str) -> str:
    """The secret part of an invitation link: signed (invitation id, nonce)."""
    return signing.make_pair("invitation", invitation_id, nonce)


def read_token(token: str) -> tuple[int, str]:
    """(invitation id, nonce) from a link token; raises signing.LinkInvalid when forged."""
    return signing.read_pair("invitation", token)


def base_url() -> str:
    return current_app.config["BASE_URL"].rstrip("/")


def invitation_url(invitation_id: int, nonce: str) -> str:
    """The personal link sent to the invitee."""
    return f"{base_url()}/i/{make_token(invitation_id, nonce)}"


def when_text(event, lang: str) -> str:
    """The event's date and time on its own wall clock, in `lang`."""
    tz = ZoneInfo(event.timezone)
    start, end = event.starts_at.astimezone(tz), event.ends_at.astimezone(tz)
    if start.date() == end.date():
        return (f"{format_date(start, 'full', locale=lang)}, "
                f"{format_time(start, 'short', locale=lang)}–"
                f"{format_time(end, 'short', locale=lang)} ({event.timezone})")
    return (f"{wall_clock(start, event.timezone, 'medium', lang)} – "
            f"{wall_clock(end, event.timezone, 'medium', lang)} ({event.timezone})")


def google_link(event) -> str:
    return google_calendar_url(
        title=event.title, starts_at=event.starts_at, ends_at=event.ends_at,
        timezone=event.timezone, details=event.description or "",
        location=location_text(event.venue or "", event.address or ""))


def _subject(kind: str, event, lang: str) -> str:
    tz = ZoneInfo(event.timezone)
    day = format_date(event.starts_at.astimezone(tz), "medium", locale=lang)
    if kind == "invitation":
        return _("Invitation: %(title)s on %(day)s", title=event.title, day=day)
    if kind == "update":
        return _("Updated: %(title)s on %(day)s", title=event.title, day=day)
    if kind == "cancel":
        return _("Cancelled: %(title)s on %(day)s", title=event.title, day=day)
    return _("Reminder: %(title)s on %(day)s", title=event.title, day=day)


def build_mail(event, recipient: Recipient, *, kind: str, now: datetime,
               changed: Iterable[str] = ()):
    """The complete message of `kind` for one recipient."""
    if kind not in KINDS:
        raise ValueError(f"unknown mail kind {kind!r}")
    lang = configured_mail_language(recipient.locale)
    url = invitation_url(recipient.invitation_id, recipient.nonce)
    calendar = None
    attachments: list[tuple[str, str, bytes]] = []
    if kind != "reminder":
        method = "CANCEL" if kind == "cancel" else "REQUEST"
        ics = build_calendar(event, method=method, now=now, url=url, attendee=Attendee(
            recipient.name, recipient.email, recipient.status))
        calendar = (ics, method)
        # The same object as a file: clients that ignore the inline part still get it.
        attachments.append(("invite.ics", "text/calendar", ics))
    with force_locale(lang):
        context = dict(
            kind=kind, event=event, name=recipient.name, url=url, when=when_text(event, lang),
            location=location_text(event.venue or "", event.address or ""),
            google_url=google_link(event), changed=set(changed), lang=lang,
            # One tap from the mail: the page opens with the answer chosen (a GET never
            # answers by itself, so link scanners cannot RSVP for the member).
            accept_url=f"{url}?answer=accepted#rsvp", decline_url=f"{url}?answer=declined#rsvp",
            deadline=(wall_clock(event.rsvp_deadline, event.timezone, "medium", lang)
                      if event.rsvp_deadline else ""),
        )
        subject = _subject(kind, event, lang)
        # Rendered straight from the environment: mails are built outside requests too
        # (CLI, workers), where the app's request context processors cannot run.
        env = current_app.jinja_env
        text = env.get_template("events/mail/event_mail.txt").render(**context)
        html = env.get_template("events/mail/event_mail.html").render(subject=subject,
                                                                      **context)
    return build_message(
        to=recipient.email, to_name=recipient.name, subject=subject, text=text, html=html,
        calendar=calendar, attachments=attachments, reply_to=event.organizer_email,
        headers={"Auto-Submitted": "auto-generated", "Content-Language": lang},
    )


def mail_kind(kind: str) -> str:
    """The outbox kind of an event mail kind ("invitation" -> "event-invitation")."""
    return f"event-{kind}"


def enqueue_mails(session: Session, event, recipients: Iterable[Recipient], *, kind: str,
                  now: datetime, changed: Iterable[str] = (), send_after: datetime | None = None,
                  key_part: str = "") -> int:
    """Queue one deferred mail per recipient in the caller's transaction; returns the count.

    Rows carry only the invitation id and the event's SEQUENCE (plus the changed fields
    of an update); the worker renders them with `render_event_mails`. One multi-row
    INSERT per batch, so inviting tens of thousands stays a request-sized job.
    """
    if kind not in KINDS:
        raise ValueError(f"unknown mail kind {kind!r}")
    changed = sorted(changed)
    subjects: dict[str, str] = {}

    def subject(lang: str) -> str:
        if lang not in subjects:
            with force_locale(lang):
                subjects[lang] = _subject(kind, event, lang)
        return subjects[lang]

    def rows():
        for r in recipients:
            payload = {"invitation_id": r.invitation_id, "sequence": event.sequence}
            if changed:
                payload["changed"] = changed
            yield outbox.Deferred(
                to_addr=r.email, payload=payload,
                subject=subject(configured_mail_language(r.locale)),
                dedupe_key=f"event:{event.id}:{kind}:{key_part}{r.invitation_id}")

    return outbox.enqueue_many(session, rows(), kind=mail_kind(kind), send_after=send_after)


def _skip_reason(kind: str, event, status: str, payload_sequence: int | None) -> str | None:
    """Why a deferred event mail must not go out any more (None: render it).

    A stale row (the event changed after it was queued) is rendered from the event's
    CURRENT state with its current SEQUENCE: that is what a calendar client must end up
    with, and we keep no old versions. So an invitation queued before an edit shows the
    edited event; the update queued by that edit then repeats the same SEQUENCE, which
    clients apply as a no-op. An update whose SEQUENCE was overtaken is dropped: the
    newer update (or the cancellation) was queued to every invitee still expecting mail.
    """
    if kind == "cancel":
        return None  # a cancellation is final; it goes out whatever happened since
    if str(event.status) == "cancelled":
        return "the event was cancelled"
    if status not in {str(s) for s in ACTIVE_STATUSES}:
        return f"the invitation is {status}"
    if kind == "update" and payload_sequence is not None and payload_sequence < event.sequence:
        return f"superseded by the update with sequence {event.sequence}"
    return None


def render_event_mails(session: Session, items):
    """Deferred-mail renderer for the event kinds: one query for the invitations of a batch."""
    wanted = {int(it.payload.get("invitation_id") or 0) for it in items}
    invitations = {row.id: row for row in session.execute(
        select(Invitation.id, Invitation.event_id, Invitation.nonce, Invitation.status,
               Member.display_name, Member.locale)
        .join(Member, Member.id == Invitation.member_id)
        .where(Invitation.id.in_(wanted)))}
    event_ids = {row.event_id for row in invitations.values()}
    events = {e.id: e for e in session.scalars(select(Event).where(Event.id.in_(event_ids)))}
    now = utcnow()
    results = {}
    for it in items:
        kind = it.kind.removeprefix("event-")
        inv = invitations.get(int(it.payload.get("invitation_id") or 0))
        event = events.get(inv.event_id) if inv is not None else None
        if inv is None or event is None:
            results[it.id] = Skip("the invitation no longer exists")
            continue
        reason = _skip_reason(kind, event, str(inv.status), it.payload.get("sequence"))
        if reason:
            results[it.id] = Skip(reason)
            continue
        recipient = Recipient(inv.id, inv.nonce, str(inv.status), inv.display_name,
                              it.to_addr, inv.locale)
        results[it.id] = build_mail(event, recipient, kind=kind, now=now,
                                    changed=it.payload.get("changed") or ())
    return results


def reminder_key_prefix(event_id: int) -> str:
    """Outbox dedupe-key prefix of an event's scheduled reminders (to withdraw them)."""
    return f"event:{event_id}:reminder:"


def register_mail_renderers() -> None:
    """Let the mail worker render the deferred event mails (called by events.init_app)."""
    for kind in KINDS:
        register_renderer(mail_kind(kind), render_event_mails)
