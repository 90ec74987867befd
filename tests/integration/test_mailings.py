"""Mailings end to end: compose, preview, test-send, send through the outbox to a real
SMTP server, List-Unsubscribe one-click and the unsubscribe page, skipped opt-outs."""
from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from engagement.community.mailings import services
from engagement.community.mailings.models import Mailing
from engagement.community.models import Member
from engagement.extensions import db
from engagement.mail.models import OutboxMessage
from tests.conftest import csrf_token
from tests.factories import make_member, make_segment, make_tier
from tests.mail_fixtures import deliver_all

NOW = datetime(2026, 11, 20, 12, tzinfo=UTC)


@pytest.fixture
def members(app):
    with app.app_context():
        tier = make_tier("MailExpert", 203, "answers >= 1")
        ids = {
            "de": make_member(display_name="Dana", email="dana@example.org", locale="de",
                              tier_id=tier.id, score=50).id,
            "en": make_member(display_name="Ed", email="ed@example.org", locale="en",
                              tier_id=tier.id, score=40).id,
            "none": make_member(display_name="Nomail", email=None, tier_id=tier.id).id,
        }
        db.session.commit()
    return ids


def _compose(client, subject="Summer meetup", body="Hello **all** <script>x()</script>"):
    token = csrf_token(client, "/mailings/new")
    from engagement.community.segments.models import Segment
    segment_id = db.session.scalar(select(Segment.id).where(Segment.name == "Mail experts"))
    return client.post("/mailings/new", data={"csrf_token": token, "segment_id": str(segment_id),
                                              "subject": subject, "body": body})


def test_mailing_reaches_the_segment_and_one_click_unsubscribe_is_honoured(
        app, members, client, login_as, smtp_server):
    smtp_server.configure(app)
    user_id, email = login_as("manager")
    with app.app_context():
        make_segment("Mail experts", {"tiers": ["MailExpert"]})
        db.session.commit()
        resp = _compose(client)
    assert resp.status_code == 302
    page = client.get(resp.headers["Location"])
    html = page.get_data(as_text=True)
    # Preview: Markdown rendered, the script removed, two recipients, one without e-mail.
    assert "&lt;strong&gt;all&lt;/strong&gt;" in html and "x()" not in html
    assert "Send to 2 members" in html
    mailing_id = int(resp.headers["Location"].rsplit("/", 1)[1])

    token = csrf_token(client, f"/mailings/{mailing_id}")
    resp = client.post(f"/mailings/{mailing_id}/test", data={"csrf_token": token})
    assert resp.status_code == 302
    deliver_all(app)
    assert [m.rcpt_tos for m in smtp_server.messages] == [[email]]
    assert smtp_server.messages[0].message["Subject"] == "[Test] Summer meetup"

    resp = client.post(f"/mailings/{mailing_id}/send", data={"csrf_token": token, "count": "2"})
    assert resp.status_code == 302
    # A second click is refused and queues nothing more.
    client.post(f"/mailings/{mailing_id}/send", data={"csrf_token": token, "count": "2"})
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(OutboxMessage).where(
            OutboxMessage.kind == "mailing")) == 2
        mailing = db.session.get(Mailing, mailing_id)
        assert (mailing.status, mailing.recipients_count, mailing.skipped_no_email) == (
            "sent", 2, 1)
    deliver_all(app)
    received = {m.rcpt_tos[0]: m.message for m in smtp_server.messages[1:]}
    assert set(received) == {"dana@example.org", "ed@example.org"}
    de, en = received["dana@example.org"], received["ed@example.org"]
    assert de["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    text_de = de.get_body(("plain",)).get_content()
    text_en = en.get_body(("plain",)).get_content()
    assert "Von diesen Mailings abmelden" in text_de
    assert "Unsubscribe from these mailings" in text_en
    assert "<strong>all</strong>" in en.get_body(("html",)).get_content()

    # The provider's one-click POST: no session, no CSRF token; repeating it is harmless.
    one_click = re.match(r"<(.+)>", de["List-Unsubscribe"]).group(1)
    path = one_click.removeprefix("http://localhost")
    anonymous = app.test_client()
    for _ in range(2):
        resp = anonymous.post(path, data={"List-Unsubscribe": "One-Click"})
        assert resp.status_code == 200
    with app.app_context():
        assert db.session.get(Member, members["de"]).mail_opt_out_at is not None

    # A later mailing skips her and says so.
    with app.app_context():
        second = services.save_draft(db.session, subject="Autumn", body="Hi",
                                     segment=db.session.scalar(select(Mailing).where(
                                         Mailing.id == mailing_id)).segment, now=NOW)
        result = services.send(db.session, second, now=NOW)
        db.session.commit()
        assert (result.recipients, result.opted_out, result.no_email) == (1, 1, 1)


def test_unsubscribe_page_needs_a_valid_token_and_csrf(app, members, client):
    with app.app_context():
        url = services.unsubscribe_url(members["en"]).removeprefix("http://localhost")
    assert client.get("/unsubscribe/forged-token").status_code == 404
    page = client.get(url)
    assert page.status_code == 200 and "Ed" in page.get_data(as_text=True)
    assert client.post(url, data={"action": "unsubscribe"}).status_code == 400  # no CSRF
    token = csrf_token(client, url)
    assert client.post(url, data={"csrf_token": token, "action": "unsubscribe"}).status_code == 302
    with app.app_context():
        assert db.session.get(Member, members["en"]).mail_opt_out_at is not None
    client.post(url, data={"csrf_token": token, "action": "undo"})
    with app.app_context():
        assert db.session.get(Member, members["en"]).mail_opt_out_at is None


def test_twenty_thousand_recipients_are_queued_in_batches(app):
    with app.app_context():
        tier = make_tier("BulkTier", 303, "answers >= 1")
        db.session.execute(Member.__table__.insert(), [
            dict(source="bulk", external_id=str(i), display_name=f"Bulk {i}",
                 email=f"bulk{i}@example.org", locale="de" if i % 3 else "en", tier_id=tier.id,
                 posts=0, answers=0, accepted_solutions=0, kudos_received=0, score=0,
                 created_at=NOW, updated_at=NOW)
            for i in range(20_000)])
        from engagement.community.segments.rules import criteria_from_dict
        mailing = services.save_draft(db.session, subject="Bulk", body="Hello",
                                      segment=None, criteria=criteria_from_dict(
                                          {"tiers": ["BulkTier"]}), now=NOW)
        result = services.send(db.session, mailing, now=NOW)
        db.session.commit()
        assert result.recipients == 20_000
        assert db.session.scalar(select(func.count(func.distinct(OutboxMessage.to_addr))).where(
            OutboxMessage.kind == "mailing")) == 20_000


def test_members_who_unsubscribe_before_delivery_get_nothing(app, members, smtp_server):
    """Mailing rows are rendered by the worker: an opt-out in between cancels the row."""
    smtp_server.configure(app)
    with app.app_context():
        from engagement.community.segments.rules import criteria_from_dict
        mailing = services.save_draft(db.session, subject="Deferred", body="Hi *there*",
                                      segment=None, now=NOW,
                                      criteria=criteria_from_dict({"tiers": ["MailExpert"]}))
        assert services.send(db.session, mailing, now=NOW).recipients == 2
        db.session.commit()
        assert db.session.scalar(select(func.count()).select_from(OutboxMessage).where(
            OutboxMessage.raw.is_(None))) == 2
        services.opt_out(db.session, db.session.get(Member, members["en"]), how="page")
        db.session.commit()
    report = deliver_all(app)
    assert (report.sent, report.cancelled) == (1, 1)
    [received] = smtp_server.messages
    assert received.rcpt_tos == ["dana@example.org"]
    assert received.message["Subject"] == "Deferred"
    assert received.message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert "/unsubscribe/" in received.message["List-Unsubscribe"]
    html = received.message.get_body(preferencelist=("html",)).get_content()
    assert "<em>there</em>" in html
    with app.app_context():
        row = db.session.scalars(select(OutboxMessage).where(
            OutboxMessage.to_addr == "ed@example.org")).one()
        assert (row.status, row.last_error) == ("cancelled",
                                                 "the member unsubscribed from mailings")
