"""Calendar replies by mail: `flask ingest-replies PATH` and POST /api/v1/inbound/mail.

The replies are built the way Outlook/Exchange and Google Calendar build them (RFC 5546 §4.2
REPLY in their MIME envelopes) from the REQUEST our own invitation mail carries
(events.calendar.build_calendar), so UID and SEQUENCE are those of real events.
"""
from __future__ import annotations

import mailbox
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from engagement.accounts.services import create_token
from engagement.audit import AuditEntry
from engagement.events import rules, services
from engagement.events.calendar import inbound
from engagement.events.models import Invitation
from engagement.events.rsvp import services as rsvp
from engagement.extensions import db
from engagement.mail.models import OutboxMessage
from tests.factories import make_user
from tests.imip_helpers import (
    NOW,
    THUNDERBIRD,
    google_mail,
    invite,
    outlook_mail,
    published_event,
    reply_calendar,
)


def test_outlook_and_google_replies_apply_like_an_online_rsvp(app_any):
    with app_any.app_context():
        event = published_event(capacity=1)
        bob, carol, dave = invite(event, "Bob.Mueller@Example.com", "carol@gmail.com",
                                  "dave@example.net")
        at = NOW - timedelta(hours=2)
        outlook = outlook_mail(reply_calendar(event, "bob.mueller@example.com", "ACCEPTED",
                                              dtstamp=at, client="outlook", name="Bob Müller"),
                               "bob.mueller@example.com", message_id="<o1@outlook.com>")
        google = google_mail(reply_calendar(event, "carol@gmail.com", "ACCEPTED", dtstamp=at,
                                            client="google"),
                             "carol@gmail.com", message_id="<g1@google.com>")
        tentative = google_mail(reply_calendar(event, "dave@example.net", "TENTATIVE",
                                               dtstamp=at, client="google"),
                                "dave@example.net", message_id="<g2@google.com>")
        [o] = inbound.ingest_message(db.session, outlook, now=NOW)
        [g] = inbound.ingest_message(db.session, google, now=NOW)
        [t] = inbound.ingest_message(db.session, tentative, now=NOW)
        assert (o.result, o.status, o.invitation_id, o.attendee) == (
            "applied", "accepted", bob.id, "bob.mueller@example.com")
        # Same capacity rules as online: the one seat is taken, Carol waits.
        assert (g.result, g.status, g.invitation_id) == ("applied", "waitlisted", carol.id)
        assert (t.result, t.status) == ("applied", "tentative")
        assert o.line() == ("applied <o1@outlook.com> uid=" + event.uid +
                            " attendee=bob.mueller@example.com ACCEPTED -> accepted")
        db.session.commit()
        for inv in (bob, carol, dave):
            db.session.refresh(inv)
        assert [str(i.status) for i in (bob, carol, dave)] == ["accepted", "waitlisted",
                                                               "tentative"]
        assert {i.rsvp_source for i in (bob, carol, dave)} == {"calendar"}
        assert bob.responded_at == at  # the reply's DTSTAMP, not when it was read
        sources = [e.after["source"] for e in db.session.scalars(
            select(AuditEntry).where(AuditEntry.action == "invitation.rsvp"))]
        assert sources == ["calendar"] * 3


def _outcome(raw: bytes, *, now=NOW) -> inbound.Outcome:
    [outcome] = inbound.ingest_message(db.session, raw, now=now)
    return outcome


def test_ignored_replies_say_why(app):
    with app.app_context():
        event = published_event()
        other = published_event(title="Other")
        [bob, eve] = invite(event, "bob@example.org", "eve@example.org")
        at = NOW - timedelta(hours=1)

        def mail(email, partstat="ACCEPTED", *, sender=None, ev=event, **kw):
            return google_mail(reply_calendar(ev, email, partstat, dtstamp=kw.pop("at", at),
                                              client="google", **kw),
                               sender or email, message_id=f"<{email}-{partstat}@x>")

        out = _outcome(mail("bob@example.org", uid="no-such-uid@elsewhere"))
        assert (out.result, out.reason, out.uid) == ("ignored", "unknown_uid",
                                                     "no-such-uid@elsewhere")
        assert _outcome(mail("stranger@example.org")).reason == "not_invited"
        assert _outcome(mail("bob@example.org", ev=other)).reason == "not_invited"
        assert _outcome(mail("bob@example.org", sender="mallory@example.org")).reason \
            == "sender_mismatch"
        for partstat in ("DELEGATED", "NEEDS-ACTION"):
            out = _outcome(mail("bob@example.org", partstat))
            assert (out.reason, out.detail) == ("unsupported_partstat", f"PARTSTAT {partstat}")
        counter = google_mail(reply_calendar(event, "bob@example.org", "ACCEPTED", dtstamp=at,
                                             client="google", method="COUNTER"),
                              "bob@example.org", message_id="<c@x>", method="COUNTER")
        out = _outcome(counter)
        assert (out.result, out.reason, out.detail) == ("skipped", "not_reply", "METHOD:COUNTER")

        # The event changed (SEQUENCE 0 -> 1): an answer to the old version is outdated.
        services.update_event(db.session, event, rules.validate_event(rules.EventInput(
            title=event.title, description=event.description, venue="Anderes Haus",
            address=event.address, starts_at=event.starts_at, ends_at=event.ends_at,
            timezone=event.timezone, organizer_name=event.organizer_name,
            organizer_email=event.organizer_email, capacity=event.capacity)),
            now=NOW - timedelta(hours=3))
        assert event.sequence == 1
        out = _outcome(mail("bob@example.org", sequence=0))
        assert (out.reason, out.detail) == ("outdated", "SEQUENCE 0 < 1")

        # Eve answered online after writing the calendar reply: the online answer stands.
        rsvp.respond(db.session, eve, "declined", now=at + timedelta(minutes=5))
        assert _outcome(mail("eve@example.org")).reason == "stale"
        db.session.refresh(eve)
        assert str(eve.status) == "declined"
        db.session.refresh(bob)
        assert str(bob.status) == "invited"

        # Deadline passed: closed, like online.
        event.rsvp_deadline = NOW - timedelta(minutes=1)
        out = _outcome(mail("bob@example.org", at=NOW - timedelta(minutes=2)))
        assert out.reason == "rsvp_closed"


def test_the_newer_reply_wins_whatever_the_order(app):
    with app.app_context():
        event = published_event()
        [bob] = invite(event, "bob@example.org")
        early = google_mail(reply_calendar(event, "bob@example.org", "ACCEPTED",
                                           dtstamp=NOW - timedelta(hours=3), client="google"),
                            "bob@example.org", message_id="<early@x>")
        late = outlook_mail(reply_calendar(event, "bob@example.org", "DECLINED",
                                           dtstamp=NOW - timedelta(hours=1), client="outlook"),
                            "bob@example.org", message_id="<late@x>")
        assert _outcome(late).result == "applied"
        assert _outcome(early).reason == "stale"
        db.session.refresh(bob)
        assert str(bob.status) == "declined"
        # The same mail again: nothing changes.
        assert _outcome(late).reason in ("stale", "unchanged")
        assert _outcome(late).result == "ignored"


# --- the command ---------------------------------------------------------------------------

@pytest.fixture
def mails(app):
    """An event with three invitees and their replies (Outlook and Google), plus noise."""
    with app.app_context():
        event = published_event(capacity=5)
        invite(event, "bob@example.org", "carol@example.org", "dave@example.org")
        at = NOW - timedelta(hours=1)
        raw = [
            outlook_mail(reply_calendar(event, "bob@example.org", "ACCEPTED", dtstamp=at,
                                        client="outlook"), "bob@example.org",
                         message_id="<bob@outlook>"),
            google_mail(reply_calendar(event, "carol@example.org", "DECLINED", dtstamp=at,
                                       client="google"), "carol@example.org",
                        message_id="<carol@google>"),
            google_mail(reply_calendar(event, "zed@example.org", "ACCEPTED", dtstamp=at,
                                       client="google"), "zed@example.org",
                        message_id="<zed@google>"),
            (THUNDERBIRD / "cancel-single-event.eml").read_bytes(),
        ]
        db.session.commit()
        event_id = event.id
    return event_id, raw


def statuses(app, event_id):
    with app.app_context():
        return {str(status): n for status, n in db.session.execute(
            select(Invitation.status, func.count())
            .where(Invitation.event_id == event_id).group_by(Invitation.status)).all()}


def outbox_count(app):
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(OutboxMessage))


def _mbox(tmp_path, raw):
    box = mailbox.mbox(str(tmp_path / "replies.mbox"))
    for item in raw:
        box.add(item)
    box.flush()
    box.close()
    return tmp_path / "replies.mbox"


def _maildir(tmp_path, raw):
    box = mailbox.Maildir(str(tmp_path / "Maildir"), create=True)
    for item in raw:
        box.add(item)
    return tmp_path / "Maildir"


def _single(tmp_path, raw):
    path = tmp_path / "reply.eml"
    path.write_bytes(raw[0])
    return path


@pytest.mark.parametrize("build, expected", [
    (_mbox, {"accepted": 1, "declined": 1, "invited": 1}),
    (_maildir, {"accepted": 1, "declined": 1, "invited": 1}),
    (_single, {"accepted": 1, "invited": 2}),
])
def test_cli_reads_mbox_maildir_and_eml_and_is_idempotent(app, mails, tmp_path, build,
                                                          expected):
    event_id, raw = mails
    path = build(tmp_path, raw)
    runner = app.test_cli_runner()
    result = runner.invoke(args=["ingest-replies", str(path)])
    assert result.exit_code == 0, result.output
    assert statuses(app, event_id) == expected
    lines = result.output.strip().splitlines()
    if build is _single:
        assert lines[0].startswith("applied <bob@outlook> ")
        assert lines[-1] == "1 messages: 1 applied, 0 ignored, 0 skipped"
    else:
        assert sorted(line.split(" ")[0] for line in lines[:-1]) == [
            "applied", "applied", "ignored:", "skipped:"]
        assert any(line.startswith("ignored: not_invited <zed@google>") for line in lines)
        assert any(line.startswith("skipped: not_reply") and "METHOD:CANCEL" in line
                   for line in lines)
        assert lines[-1] == "4 messages: 2 applied, 1 ignored, 1 skipped"
    mails_after_first = outbox_count(app)
    again = runner.invoke(args=["ingest-replies", str(path)])
    assert again.exit_code == 0, again.output
    assert statuses(app, event_id) == expected
    assert outbox_count(app) == mails_after_first  # no second confirmation mail
    assert " 0 applied" in again.output.strip().splitlines()[-1]
    with app.app_context():
        runs = db.session.scalars(select(AuditEntry).where(
            AuditEntry.action == "events.ingest_replies")).all()
        assert [r.actor for r in runs] == ["cli:ingest-replies"] * 2
        assert runs[0].after["applied"] == (1 if build is _single else 2)


def test_cli_on_the_thunderbird_invitations_skips_every_one(app):
    result = app.test_cli_runner().invoke(args=["ingest-replies", str(THUNDERBIRD)])
    assert result.exit_code == 0, result.output
    lines = result.output.strip().splitlines()
    assert lines[-1] == "16 messages: 0 applied, 0 ignored, 16 skipped"
    assert all(line.startswith("skipped: not_reply ") for line in lines[:-1])
    assert sum("METHOD:CANCEL" in line for line in lines) == 2


def test_cli_unreadable_input_fails(app, tmp_path):
    runner = app.test_cli_runner()
    (tmp_path / "empty").mkdir()
    result = runner.invoke(args=["ingest-replies", str(tmp_path / "empty")])
    assert result.exit_code == 1 and "neither a Maildir" in result.output
    assert runner.invoke(args=["ingest-replies", str(tmp_path / "missing")]).exit_code == 2
    assert "Maildir" in runner.invoke(args=["ingest-replies", "--help"]).output


# --- the endpoint --------------------------------------------------------------------------

@pytest.fixture
def api(app):
    with app.app_context():
        manager, hr = make_user(role="manager"), make_user(role="hr")
        _t, token = create_token(db.session, manager, "inbound")
        _t, hr_token = create_token(db.session, hr, "inbound")
        db.session.commit()
    client = app.test_client()

    def post(body: bytes, token_=None, content_type="message/rfc822"):
        headers = {"Content-Type": content_type}
        if token_ is not False:
            headers["Authorization"] = f"Bearer {token_ or token}"
        return client.post("/api/v1/inbound/mail", data=body, headers=headers)

    post.hr_token = hr_token
    return post


def test_inbound_endpoint_applies_a_posted_reply(app, api, mails):
    event_id, raw = mails
    response = api(raw[1])
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["message_id"] == "<carol@google>"
    assert body["counts"] == {"applied": 1, "ignored": 0, "skipped": 0}
    [outcome] = body["outcomes"]
    assert (outcome["result"], outcome["status"], outcome["attendee"]) == (
        "applied", "declined", "carol@example.org")
    assert statuses(app, event_id) == {"declined": 1, "invited": 2}
    again = api(raw[1]).get_json()["outcomes"][0]
    assert (again["result"], again["reason"]) == ("ignored", "unchanged")
    skipped = api(raw[3]).get_json()
    assert skipped["counts"] == {"applied": 0, "ignored": 0, "skipped": 1}
    assert skipped["outcomes"][0]["reason"] == "not_reply"


def test_inbound_endpoint_refuses_bad_requests(app, api, mails):
    _event_id, raw = mails
    assert api(raw[0], token_=False).status_code == 401
    assert api(raw[0], token_=api.hr_token).status_code == 403
    r = api(raw[0], content_type="application/json")
    assert r.status_code == 415 and r.get_json()["error"]["code"] == "unsupported_media_type"
    assert api(b"  ").status_code == 400
    app.config["INBOUND_MAIL_MAX_BYTES"] = 100
    r = api(raw[0])
    assert r.status_code == 413 and r.get_json()["error"]["code"] == "too_large"


def test_the_static_client_fixtures_apply_to_the_event_they_answer(app_any):
    """tests/data/imip: Outlook (base64, Windows TZID), Google (inline + invite.ics) and
    Apple (attachment only, DTEND and DURATION) replies to one event with SEQUENCE 2."""
    data = Path(__file__).resolve().parents[1] / "data" / "imip"
    with app_any.app_context():
        event = published_event()
        event.uid = "20301001T120000Z-4f1c2a@engagement.example.org"
        event.sequence = 2
        bob, carol, doerte = invite(event, "Bob.Mueller@example.com", "carol.example@gmail.com",
                                    "doerte@example.net")
        now = datetime(2030, 10, 25, tzinfo=UTC)
        got = {name: _outcome((data / name).read_bytes(), now=now) for name in (
            "outlook-accepted.eml", "google-declined.eml", "apple-tentative.eml")}
        assert {n: (o.result, o.status) for n, o in got.items()} == {
            "outlook-accepted.eml": ("applied", "accepted"),
            "google-declined.eml": ("applied", "declined"),
            "apple-tentative.eml": ("applied", "tentative")}
        db.session.refresh(bob)
        assert bob.responded_at == datetime(2030, 10, 20, 10, 15, tzinfo=UTC)
        assert _outcome((data / "rfc5546-counter.eml").read_bytes(), now=now).result \
            == "skipped"
        # A reply with an answer for the whole event and one for an occurrence (RECURRENCE-ID):
        # our events do not repeat, so only the first counts.
        unknown = inbound.ingest_message(
            db.session, (data / "recurrence-reply.eml").read_bytes(), now=now)
        assert [o.reason for o in unknown] == ["unknown_uid", "unknown_uid"]
        single = published_event(title="Single")
        single.uid = "guid-1@example.com"
        [b] = invite(single, "b@example.com")
        first, occurrence = inbound.ingest_message(
            db.session, (data / "recurrence-reply.eml").read_bytes(), now=now)
        assert (first.result, first.status, first.invitation_id) == ("applied", "accepted", b.id)
        assert (occurrence.result, occurrence.reason) == ("ignored", "occurrence")
