"""Forged calendar replies (security issue, item 1): a REPLY answers only for its attendee.

Each test is the attack as a hostile sender performs it: the event's UID is in every
invitee's .ics, and the victim's address is known, so the attacker builds the REPLY the
victim's client would have built and mails it in.
"""
from __future__ import annotations

from datetime import timedelta

import icalendar
import pytest
from sqlalchemy import select

from engagement.audit import AuditEntry
from engagement.events.calendar import delegates, inbound
from engagement.events.calendar.models import CalendarReplyLog
from engagement.extensions import db
from tests.conftest import csrf_token
from tests.imip_helpers import (
    NOW,
    google_mail,
    invite,
    published_event,
    reply_calendar,
)

TRUSTED = "mx.example.org"


def _sent_by(ics: bytes, delegate: str) -> bytes:
    """The reply with SENT-BY on its ATTENDEE (RFC 5545 §3.2.18): a delegate answering."""
    cal = icalendar.Calendar.from_ical(ics)
    attendee = cal.walk("VEVENT")[0]["ATTENDEE"]
    attendee.params["SENT-BY"] = f"mailto:{delegate}"
    return cal.to_ical()


def _with_headers(raw: bytes, *headers: str) -> bytes:
    """Headers put on top, as the receiving server prepends its own trace headers."""
    return "".join(h + "\r\n" for h in headers).encode() + raw


def _decline(event, victim: str, sender: str, *, sent_by: str | None = None,
             message_id: str = "<forged@x>") -> bytes:
    ics = reply_calendar(event, victim, "DECLINED", dtstamp=NOW - timedelta(hours=1),
                         client="google")
    if sent_by:
        ics = _sent_by(ics, sent_by)
    return google_mail(ics, sender, message_id=message_id)


def _one(raw: bytes) -> inbound.Outcome:
    [outcome] = inbound.ingest_message(db.session, raw, now=NOW, source="test")
    return outcome


def test_sent_by_an_unrecorded_address_is_ignored_with_its_reason(app):
    with app.app_context():
        event = published_event()
        [bob] = invite(event, "bob@example.org")
        out = _one(_decline(event, "bob@example.org", "mallory@evil.example",
                            sent_by="mallory@evil.example"))
        assert (out.result, out.reason) == ("ignored", "unrecorded_delegate")
        assert "mallory@evil.example" in out.detail and "bob@example.org" in out.detail
        db.session.refresh(bob)
        assert str(bob.status) == "invited"


def test_sent_by_a_recorded_delegate_is_applied(app):
    with app.app_context():
        event = published_event()
        [bob] = invite(event, "bob@example.org")
        delegates.add_delegate(db.session, bob.member_id, "Assistant@Example.org",
                               note="Bob's assistant", now=NOW - timedelta(days=3))
        out = _one(_decline(event, "bob@example.org", "assistant@example.org",
                            sent_by="assistant@example.org"))
        assert (out.result, out.status, out.invitation_id) == ("applied", "declined", bob.id)
        # A delegate of someone else is not a delegate of Bob's colleague.
        [carol] = invite(event, "carol@example.org")
        out = _one(_decline(event, "carol@example.org", "assistant@example.org",
                            sent_by="assistant@example.org", message_id="<c@x>"))
        assert out.reason == "unrecorded_delegate"
        actions = db.session.scalars(select(AuditEntry.action).where(
            AuditEntry.action.like("calendar_delegate.%"))).all()
        assert actions == ["calendar_delegate.add"]
        assert str(carol.status) == "invited"


def test_a_sender_header_does_not_stand_in_for_from(app):
    """Sender: is not what DMARC checks, so it must not name who answers."""
    with app.app_context():
        event = published_event()
        [bob] = invite(event, "bob@example.org")
        raw = _with_headers(_decline(event, "bob@example.org", "mallory@evil.example"),
                            "Sender: bob@example.org")
        assert _one(raw).reason == "sender_mismatch"


def test_spoofed_from_with_a_trusted_dmarc_fail_is_ignored(app):
    app.config["INBOUND_AUTHSERV_ID"] = TRUSTED
    with app.app_context():
        event = published_event()
        [bob] = invite(event, "bob@example.org")
        raw = _with_headers(
            _decline(event, "bob@example.org", "bob@example.org"),
            f"Authentication-Results: {TRUSTED}; dkim=none; spf=fail "
            "smtp.mailfrom=evil.example; dmarc=fail (p=none) header.from=example.org")
        out = _one(raw)
        assert (out.result, out.reason) == ("ignored", "auth_failed")
        assert "dmarc=fail" in out.detail
        # DKIM and SPF both failing (no DMARC result) is a failure too.
        raw = _with_headers(
            _decline(event, "bob@example.org", "bob@example.org", message_id="<2@x>"),
            f"Authentication-Results: {TRUSTED}; dkim=fail header.d=example.org; "
            "spf=softfail smtp.mailfrom=example.org")
        assert _one(raw).reason == "auth_failed"
        db.session.refresh(bob)
        assert str(bob.status) == "invited"


def test_an_attacker_added_pass_from_another_authserv_id_does_not_count(app):
    app.config.update(INBOUND_AUTHSERV_ID=TRUSTED, INBOUND_REQUIRE_AUTH=True)
    with app.app_context():
        event = published_event()
        [bob] = invite(event, "bob@example.org")
        forged = _with_headers(
            _decline(event, "bob@example.org", "bob@example.org"),
            "Authentication-Results: mx.evil.example; dmarc=pass header.from=example.org")
        out = _one(forged)
        assert (out.result, out.reason) == ("ignored", "auth_required")
        # A trusted pass *below* the server's own header was added by the sender: the
        # receiving server's header is the topmost one with its id, and it says fail.
        stacked = _with_headers(
            _decline(event, "bob@example.org", "bob@example.org", message_id="<s@x>"),
            f"Authentication-Results: {TRUSTED}; dmarc=fail header.from=example.org",
            f"Authentication-Results: {TRUSTED}; dmarc=pass header.from=example.org")
        assert _one(stacked).reason == "auth_failed"
        db.session.refresh(bob)
        assert str(bob.status) == "invited"
        # The genuine mail, with the trusted server's pass, is applied.
        genuine = _with_headers(
            _decline(event, "bob@example.org", "bob@example.org", message_id="<g@x>"),
            f"Authentication-Results: {TRUSTED.upper()}; dkim=pass header.d=example.org; "
            "dmarc=pass (p=reject) header.from=example.org")
        assert _one(genuine).result == "applied"


@pytest.fixture
def logged(app):
    """An event with one applied and two ignored replies, read by the API and the CLI."""
    with app.app_context():
        event = published_event()
        [bob, _carol] = invite(event, "bob@example.org", "carol@example.org")
        _one(_decline(event, "bob@example.org", "mallory@evil.example",
                      sent_by="mallory@evil.example", message_id="<m1@evil>"))
        _one(_decline(event, "carol@example.org", "carol@example.org", message_id="<c1@x>"))
        _one(_decline(event, "bob@example.org", "eve@evil.example", message_id="<m2@evil>"))
        db.session.commit()
        return event.id, bob.id


def test_every_reply_is_kept_with_its_outcome(app, logged):
    event_id, bob_id = logged
    with app.app_context():
        rows = db.session.scalars(select(CalendarReplyLog).order_by(CalendarReplyLog.id)).all()
        assert [(r.result, r.reason, r.sender, r.event_id) for r in rows] == [
            ("ignored", "unrecorded_delegate", "mallory@evil.example", event_id),
            ("applied", None, "carol@example.org", event_id),
            ("ignored", "sender_mismatch", "eve@evil.example", event_id)]
        assert rows[0].invitation_id == bob_id and rows[0].received_at == NOW
        assert rows[0].message_id == "<m1@evil>" and rows[0].source == "test"


def test_managers_see_ignored_replies_and_why(app, client, login_as, logged):
    event_id, _bob = logged
    login_as("manager")
    page = client.get(f"/events/{event_id}/replies")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "mallory@evil.example" in html and "eve@evil.example" in html
    assert "not a recorded delegate" in html and "did not send it" in html
    assert "&lt;m1@evil&gt;" in html
    only_ignored = client.get(f"/events/{event_id}/replies?result=ignored").get_data(
        as_text=True)
    assert "carol@example.org" not in only_ignored and "mallory@evil.example" in only_ignored
    detail = client.get(f"/events/{event_id}").get_data(as_text=True)
    assert f"/events/{event_id}/replies" in detail


@pytest.mark.parametrize("role", ["member", "hr"])
def test_other_roles_cannot_see_the_replies(app, client, login_as, logged, role):
    event_id, _bob = logged
    login_as(role)
    assert client.get(f"/events/{event_id}/replies").status_code == 403


def test_managers_record_and_remove_delegates_on_a_page(app, client, login_as):
    with app.app_context():
        event = published_event()
        [bob] = invite(event, "bob@example.org")
        member_id = bob.member_id
        db.session.commit()
    login_as("manager")
    path = f"/members/{member_id}/calendar-delegates"
    token = csrf_token(client, path)
    r = client.post(path, data={"csrf_token": token, "email": "pa@example.org",
                                "note": "assistant"}, follow_redirects=True)
    assert r.status_code == 200 and "pa@example.org" in r.get_data(as_text=True)
    r = client.post(path, data={"csrf_token": token, "email": "not an address"})
    assert r.status_code == 422
    with app.app_context():
        [row] = delegates.delegates_of(db.session, [member_id])[member_id]
        assert row == "pa@example.org"
        delegate_id = db.session.scalar(select(delegates.CalendarDelegate.id))
    client.post(f"{path}/{delegate_id}/remove", data={"csrf_token": token})
    with app.app_context():
        assert delegates.delegates_of(db.session, [member_id]) == {}
        assert db.session.scalar(select(AuditEntry.id).where(
            AuditEntry.action == "calendar_delegate.remove"))
    login_as("member")
    assert client.get(path).status_code == 403


def test_delegates_by_command(app, runner):
    with app.app_context():
        event = published_event()
        invite(event, "Bob@Example.org")
        db.session.commit()
    r = runner.invoke(args=["calendar-delegates", "add", "bob@example.org", "pa@example.org"])
    assert r.exit_code == 0, r.output
    r = runner.invoke(args=["calendar-delegates", "list", "bob@example.org"])
    assert "pa@example.org" in r.output
    r = runner.invoke(args=["calendar-delegates", "add", "nobody@example.org", "x@example.org"])
    assert r.exit_code != 0 and "no member" in r.output
    r = runner.invoke(args=["calendar-delegates", "remove", "bob@example.org",
                            "pa@example.org"])
    assert r.exit_code == 0
    with app.app_context():
        assert db.session.scalar(select(delegates.CalendarDelegate.id)) is None
