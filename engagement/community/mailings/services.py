"""Mailing use cases: draft, preview, test-send, send to a segment, unsubscribe.

Sending writes one small deferred outbox row per recipient in the request's transaction
(multi-row INSERTs, no message built yet), because a segment can hold tens of thousands of
members; the mail worker renders each mail (`render_mailing_mails`) and delivers it.
"""
from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from typing import Any

from flask import current_app
from flask_babel import force_locale
from sqlalchemy import and_, case, func, select, update
from sqlalchemy.orm import Session

from ... import audit
from ...mail import outbox
from ...mail.compose import build_message, list_unsubscribe_headers
from ...mail.language import mail_language
from ...mail.models import OutboxMessage
from ...mail.render import RenderItem, Skip
from ...timeutil import utcnow
from ..models import Member
from ..segments.models import Segment
from ..segments.rules import SegmentCriteria, criteria_from_dict
from ..segments.services import check_tiers_exist, segment_query, validate_extras
from .models import Mailing, MailingStatus
from .rules import (
    check_body,
    check_subject,
    invite_opt_out_token,
    markdown_to_text,
    render_markdown,
    unsubscribe_token,
)

MAIL_KIND = "mailing"
BATCH = 1000
_URL_MARK = "UNSUBSCRIBEURLMARK"  # replaced per recipient in the once-rendered footer


class MailingError(Exception):
    """The mailing cannot be changed or sent as asked (already sent, nobody to send to)."""


class RecipientsChanged(MailingError):
    """The segment changed between the confirmation and the send: confirm the new count."""

    def __init__(self, confirmed: int, now: int) -> None:
        super().__init__(f"The recipients changed from {confirmed} to {now}.")
        self.confirmed, self.now = confirmed, now


@dataclass(frozen=True)
class Audience:
    """Who a mailing reaches now: the segment minus opted-out members and missing e-mails."""

    in_segment: int
    opted_out: int
    no_email: int

    @property
    def recipients(self) -> int:
        return self.in_segment - self.opted_out - self.no_email


def _has_email():
    return and_(Member.email.is_not(None), Member.email != "")


def mailing_criteria(mailing: Mailing) -> SegmentCriteria:
    """The criteria a mailing goes to: its segment's current ones, else its own snapshot."""
    if mailing.segment is not None and not mailing.is_sent:
        return criteria_from_dict(mailing.segment.criteria)
    return criteria_from_dict(mailing.criteria)


def audience(session: Session, criteria: SegmentCriteria, *, now: datetime | None = None
             ) -> Audience:
    """Count the segment and who of it a mailing skips (one aggregate query)."""
    members = segment_query(session, criteria, now=now).subquery()
    opted = Member.mail_opt_out_at.is_not(None)
    row = session.execute(
        select(func.count(),
               func.coalesce(func.sum(case((opted, 1), else_=0)), 0),
               func.coalesce(func.sum(case((and_(~opted, ~_has_email()), 1), else_=0)), 0))
        .select_from(Member).where(Member.id.in_(select(members.c.id)))
    ).one()
    return Audience(int(row[0]), int(row[1]), int(row[2]))


def _snapshot(m: Mailing) -> dict[str, Any]:
    return {"subject": m.subject, "segment_id": m.segment_id, "segment": m.segment_name,
            "criteria": m.criteria, "body_chars": len(m.body), "status": m.status}


def save_draft(
    session: Session, *, subject: str, body: str, segment: Segment | None,
    criteria: SegmentCriteria | None = None, mailing: Mailing | None = None,
    actor_user_id: int | None = None, actor: str = "", now: datetime | None = None,
) -> Mailing:
    """Create or change a draft mailing to a saved segment or to ad-hoc criteria."""
    now = now or utcnow()
    subject, body = check_subject(subject), check_body(body)
    if mailing is not None and mailing.is_sent:
        raise MailingError("This mailing has been sent and cannot be changed.")
    if segment is not None:
        criteria = criteria_from_dict(segment.criteria)
    if criteria is None:
        raise MailingError("Choose a segment.")
    criteria = validate_extras(criteria)
    check_tiers_exist(session, criteria)
    before = None if mailing is None else _snapshot(mailing)
    if mailing is None:
        mailing = Mailing(created_by_user_id=actor_user_id, created_by=actor, created_at=now,
                          status=MailingStatus.DRAFT)
        session.add(mailing)
    mailing.subject, mailing.body = subject, body
    mailing.segment = segment
    mailing.segment_id = segment.id if segment is not None else None
    mailing.segment_name = segment.name if segment is not None else ""
    mailing.criteria = criteria.to_dict()
    mailing.updated_at = now
    session.flush()
    audit.record(session, "mailing.create" if before is None else "mailing.update", "mailing",
                 mailing.id, before=before, after=_snapshot(mailing), at=now)
    return mailing


def delete_draft(session: Session, mailing: Mailing) -> None:
    """Delete a draft (sent mailings stay: they are the record of what went out)."""
    if mailing.is_sent:
        raise MailingError("A sent mailing is kept as a record and cannot be deleted.")
    audit.record(session, "mailing.delete", "mailing", mailing.id, before=_snapshot(mailing))
    session.delete(mailing)
    session.flush()


# --- composing the mails ----------------------------------------------------------------------

@dataclass(frozen=True)
class _Rendered:
    text: str
    html: str


def _render(mailing: Mailing, lang: str, *, test: bool = False) -> _Rendered:
    """The mail in one language, with a mark where each recipient's unsubscribe URL goes."""
    body_html = render_markdown(mailing.body)
    with force_locale(lang):
        ctx = dict(mailing=mailing, body_text=markdown_to_text(mailing.body), body_html=body_html,
                   unsubscribe_url=_URL_MARK, test=test)
        # Straight from the Jinja environment: mails are also built outside requests
        # (commands, workers), where request context processors cannot run.
        env = current_app.jinja_env
        return _Rendered(env.get_template("community/mailings/mail.txt").render(**ctx),
                         env.get_template("community/mailings/mail.html").render(**ctx))


def unsubscribe_url(member_id: int) -> str:
    """The public confirm page of a member's unsubscribe link."""
    token = unsubscribe_token(current_app.config["SECRET_KEY"], member_id)
    return _absolute(_path("mailings.unsubscribe", token))


def one_click_url(member_id: int) -> str:
    """The RFC 8058 one-click endpoint (a POST from the mail provider unsubscribes)."""
    token = unsubscribe_token(current_app.config["SECRET_KEY"], member_id)
    return _absolute(_path("mailings.unsubscribe_one_click", token))


def _path(endpoint: str, token: str) -> str:
    # Built from the URL map, not url_for: there may be no request (a CLI send).
    return current_app.url_map.bind("localhost").build(endpoint, {"token": token})


def _absolute(path: str) -> str:
    return current_app.config["BASE_URL"].rstrip("/") + path


def _message(rendered: _Rendered, *, to: str, to_name: str | None, subject: str,
             member_id: int | None):
    headers = {}
    page = unsubscribe_url(member_id) if member_id is not None else ""
    if member_id is not None:
        # RFC 8058: mail providers show an "unsubscribe" button and POST to this URL.
        headers = list_unsubscribe_headers(one_click_url(member_id))
    text = rendered.text.replace(_URL_MARK, page)
    html = rendered.html.replace(_URL_MARK, page)
    return build_message(to=to, to_name=to_name, subject=subject, text=text, html=html,
                         headers=headers)


def preview_html(mailing: Mailing, lang: str) -> str:
    """The mail's HTML part as a recipient in `lang` sees it (sample unsubscribe link)."""
    return _render(mailing, lang).html.replace(_URL_MARK, "#")


def send_test(session: Session, mailing: Mailing, *, to: str, to_name: str | None,
              lang: str, member_id: int | None = None, now: datetime | None = None
              ) -> OutboxMessage:
    """One copy to the sender ("[Test] …") through the outbox; does not mark it sent."""
    now = now or utcnow()
    rendered = _render(mailing, lang, test=True)
    message = _message(rendered, to=to, to_name=to_name, subject=f"[Test] {mailing.subject}",
                       member_id=member_id)
    row = outbox.enqueue(session, message, kind=f"{MAIL_KIND}-test")
    mailing.test_sent_at = now
    session.flush()
    return row


def _recipients(session: Session, criteria: SegmentCriteria, now: datetime
                ) -> Iterator[list[tuple[int, str, str, str | None]]]:
    """Batches of (id, email, name, locale), walking the primary key (no OFFSET)."""
    members = select(segment_query(session, criteria.replace(has_email=True,
                                                             exclude_opted_out=True),
                                   now=now).subquery().c.id)
    last = 0
    while True:
        rows = session.execute(
            select(Member.id, Member.email, Member.display_name, Member.locale)
            .where(Member.id.in_(members), Member.id > last).order_by(Member.id).limit(BATCH)
        ).all()
        if not rows:
            return
        yield [tuple(r) for r in rows]
        last = rows[-1][0]


def dedupe_key(mailing_id: int, member_id: int) -> str:
    return f"{MAIL_KIND}:{mailing_id}:{member_id}"


def send(session: Session, mailing: Mailing, *, actor: str = "", now: datetime | None = None,
         confirmed_recipients: int | None = None) -> Audience:
    """Queue the mailing for every member of its segment who has not opted out.

    Marks the mailing sent first with a conditional UPDATE, so a second click (or a
    second process) finds it sent and stops; the outbox keys `mailing:<id>:<member>`
    are a second guard against queueing anyone twice. `confirmed_recipients` is the count
    the sender confirmed: a different count now raises RecipientsChanged.
    """
    now = now or utcnow()
    criteria = mailing_criteria(mailing)
    check_tiers_exist(session, criteria)
    if mailing.is_sent:
        raise MailingError("This mailing has been sent already.")
    counts = audience(session, criteria, now=now)
    if counts.recipients == 0:
        raise MailingError("Nobody in this segment can receive the mailing.")
    if confirmed_recipients is not None and confirmed_recipients != counts.recipients:
        raise RecipientsChanged(confirmed_recipients, counts.recipients)
    claimed = session.execute(
        update(Mailing).where(Mailing.id == mailing.id, Mailing.status == MailingStatus.DRAFT)
        .values(status=MailingStatus.SENT, sent_at=now, sent_by=actor[:255],
                criteria=criteria.to_dict(), updated_at=now),
        execution_options={"synchronize_session": False},
    ).rowcount
    if not claimed:
        raise MailingError("This mailing has been sent already.")
    session.refresh(mailing)

    # Deferred rendering: one small row per recipient (member id in the payload) in one
    # multi-row INSERT per batch; the worker builds each mail just before sending it.
    queued = outbox.enqueue_many(session, (
        outbox.Deferred(to_addr=email, subject=mailing.subject,
                        payload={"mailing_id": mailing.id, "member_id": member_id},
                        dedupe_key=dedupe_key(mailing.id, member_id), member_id=member_id)
        for batch in _recipients(session, criteria, now)
        for member_id, email, _name, _locale in batch), kind=MAIL_KIND)
    mailing.recipients_count = queued
    mailing.skipped_opted_out = counts.opted_out
    mailing.skipped_no_email = counts.no_email
    session.flush()
    audit.record(session, "mailing.send", "mailing", mailing.id,
                 after={**_snapshot(mailing), "recipients": queued,
                        "skipped_opted_out": counts.opted_out,
                        "skipped_no_email": counts.no_email}, at=now)
    return Audience(counts.in_segment, counts.opted_out, counts.no_email)


def render_mailing_mails(session: Session, items: Sequence[RenderItem]
                         ) -> dict[int, EmailMessage | Skip]:
    """Deferred-mail renderer for mailings: each text rendered once per language and batch.

    A member who unsubscribed after the mailing was queued gets nothing (the row is
    cancelled with that reason); the address is the one the mailing was queued to.
    """
    member_ids = {int(it.payload.get("member_id") or 0) for it in items}
    mailing_ids = {int(it.payload.get("mailing_id") or 0) for it in items}
    members = {row.id: row for row in session.execute(
        select(Member.id, Member.display_name, Member.locale, Member.mail_opt_out_at)
        .where(Member.id.in_(member_ids)))}
    mailings = {m.id: m for m in session.scalars(select(Mailing).where(
        Mailing.id.in_(mailing_ids)))}
    languages = current_app.config["LANGUAGES"]
    default = current_app.config["BABEL_DEFAULT_LOCALE"]
    rendered: dict[tuple[int, str], _Rendered] = {}
    results: dict[int, EmailMessage | Skip] = {}
    for it in items:
        mailing = mailings.get(int(it.payload.get("mailing_id") or 0))
        member = members.get(int(it.payload.get("member_id") or 0))
        if mailing is None:
            results[it.id] = Skip("the mailing no longer exists")
        elif member is None:
            results[it.id] = Skip("the member no longer exists")
        elif member.mail_opt_out_at is not None:
            results[it.id] = Skip("the member unsubscribed from mailings")
        else:
            lang = mail_language(member.locale, languages, default)
            if (mailing.id, lang) not in rendered:
                rendered[mailing.id, lang] = _render(mailing, lang)
            results[it.id] = _message(rendered[mailing.id, lang], to=it.to_addr,
                                      to_name=member.display_name, subject=mailing.subject,
                                      member_id=member.id)
    return results


# --- unsubscribing ----------------------------------------------------------------------------

def opt_out(session: Session, member: Member, *, how: str, now: datetime | None = None) -> bool:
    """Record that the member wants no more mailings; False when they had already opted out.

    Idempotent: repeating it (a provider retrying the one-click POST) changes nothing.
    """
    now = now or utcnow()
    changed = session.execute(
        update(Member).where(Member.id == member.id, Member.mail_opt_out_at.is_(None))
        .values(mail_opt_out_at=now),
        execution_options={"synchronize_session": False},
    ).rowcount
    if changed:
        session.refresh(member)
        audit.record(session, "member.mail_opt_out", "member", member.id,
                     after={"mail_opt_out_at": now, "via": how}, actor=f"member:{member.id}",
                     at=now)
    session.flush()
    return bool(changed)


def invite_opt_out_url(member_id: int) -> str:
    """The public page where a member stops (or resumes) event invitations."""
    token = invite_opt_out_token(current_app.config["SECRET_KEY"], member_id)
    return _absolute(_path("mailings.invite_opt_out", token))


OPT_OUT_FIELDS = {"mailings": "mail_opt_out_at", "invitations": "invite_opt_out_at"}


def set_opt_out(session: Session, member: Member, kind: str, opted_out: bool, *,
                via: str, actor: str | None = None, now: datetime | None = None) -> bool:
    """Set one opt-out ("mailings" or "invitations") of a member; False when unchanged.

    Each kind stops only its own mail. Audited with who changed it (the member through
    their link, or a manager on the member page).
    """
    field = OPT_OUT_FIELDS[kind]
    now = now or utcnow()
    before = getattr(member, field)
    if (before is not None) == opted_out:
        return False
    setattr(member, field, now if opted_out else None)
    session.flush()
    audit.record(session, f"member.{kind}_opt_{'out' if opted_out else 'in'}", "member",
                 member.id, before={field: before}, after={field: getattr(member, field),
                                                          "via": via},
                 actor=actor, at=now)
    return True


def opt_in(session: Session, member: Member, *, now: datetime | None = None) -> bool:
    """Undo an opt-out from the unsubscribe page (the member changed their mind)."""
    if member.mail_opt_out_at is None:
        return False
    before = member.mail_opt_out_at
    member.mail_opt_out_at = None
    session.flush()
    audit.record(session, "member.mail_opt_in", "member", member.id,
                 before={"mail_opt_out_at": before}, after={"mail_opt_out_at": None},
                 actor=f"member:{member.id}", at=now or utcnow())
    return True

