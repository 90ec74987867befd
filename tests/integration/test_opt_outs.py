"""Opt-outs: mailings and event invitations are separate choices, each with its own page."""
from __future__ import annotations

from sqlalchemy import select

from engagement.audit.models import AuditEntry
from engagement.community.mailings import services as mailings
from engagement.community.mailings.rules import invite_opt_out_token, unsubscribe_token
from engagement.community.models import Member
from engagement.events import services as events
from engagement.extensions import db
from tests.conftest import csrf_token
from tests.factories import make_member, make_segment, make_tier
from tests.helpers import EVENT_NOW as NOW
from tests.helpers import published_event


def test_a_member_unsubscribed_from_mailings_is_still_invited_to_events(app):
    with app.app_context():
        no_mailings = make_member(display_name="No Mailings", email="nm@example.org",
                                  mail_opt_out_at=NOW)
        no_invites = make_member(display_name="No Invites", email="ni@example.org",
                                 invite_opt_out_at=NOW)
        event = published_event()
        result = events.invite(db.session, event, now=NOW,
                               member_ids=[no_mailings.id, no_invites.id])
        assert result.created == 1
        assert [(s.member_id, s.reason) for s in result.skipped] == [
            (no_invites.id, "opted_out")]


def test_an_invitation_opt_out_does_not_stop_mailings(app):
    with app.app_context():
        tier = make_tier("OptTier", 205, "answers >= 1")
        make_member(email="a@example.org", tier_id=tier.id, invite_opt_out_at=NOW)
        make_member(email="b@example.org", tier_id=tier.id, mail_opt_out_at=NOW)
        segment = make_segment("Opt people", {"tiers": ["OptTier"]})
        mailing = mailings.save_draft(db.session, subject="Hi", body="Hello", segment=segment,
                                      now=NOW)
        counts = mailings.audience(db.session, mailings.mailing_criteria(mailing), now=NOW)
        assert (counts.recipients, counts.opted_out) == (1, 1)


def test_the_invitation_opt_out_page_needs_its_own_token_and_csrf(app, client):
    with app.app_context():
        member = make_member(display_name="Ida", email="ida@example.org")
        db.session.commit()
        member_id = member.id
        secret = app.config["SECRET_KEY"]
        good = invite_opt_out_token(secret, member_id)
        mailing_token = unsubscribe_token(secret, member_id)
    # A mailing unsubscribe token is another kind of link: it cannot stop invitations.
    assert client.get(f"/invitations/opt-out/{mailing_token}").status_code == 404
    assert client.get("/invitations/opt-out/forged").status_code == 404
    assert client.post(f"/invitations/opt-out/{good}", data={}).status_code == 400
    page = client.get(f"/invitations/opt-out/{good}")
    assert page.status_code == 200 and "Ida" in page.get_data(as_text=True)
    token = csrf_token(client, f"/invitations/opt-out/{good}")
    resp = client.post(f"/invitations/opt-out/{good}", data={"csrf_token": token,
                                                             "action": "stop"})
    assert resp.status_code == 302
    with app.app_context():
        member = db.session.get(Member, member_id)
        assert member.invite_opt_out_at is not None and member.mail_opt_out_at is None
        entry = db.session.scalars(select(AuditEntry).where(
            AuditEntry.action == "member.invitations_opt_out")).one()
        assert entry.actor == f"member:{member_id}"
    client.post(f"/invitations/opt-out/{good}", data={"csrf_token": token, "action": "undo"})
    with app.app_context():
        assert db.session.get(Member, member_id).invite_opt_out_at is None


def test_managers_see_and_change_both_opt_outs_on_the_member_page_audited(
        app, client, login_as):
    with app.app_context():
        member = make_member(display_name="Mia", email="mia@example.org", mail_opt_out_at=NOW)
        db.session.commit()
        member_id = member.id
    login_as("hr")
    html = client.get(f"/members/{member_id}").get_data(as_text=True)
    assert "Mail preferences" in html and "unsubscribed on" in html
    assert f"/members/{member_id}/opt-outs" not in html  # HR sees, cannot change
    hr_token = csrf_token(client, f"/members/{member_id}")
    assert client.post(f"/members/{member_id}/opt-outs",
                       data={"csrf_token": hr_token}).status_code == 403

    user_id, email = login_as("manager")
    token = csrf_token(client, f"/members/{member_id}")
    assert f"/members/{member_id}/opt-outs" in client.get(
        f"/members/{member_id}").get_data(as_text=True)
    assert client.post(f"/members/{member_id}/opt-outs", data={}).status_code == 400
    # Mailings back on, invitations off.
    resp = client.post(f"/members/{member_id}/opt-outs",
                       data={"csrf_token": token, "invitations": "out"})
    assert resp.status_code == 302
    with app.app_context():
        member = db.session.get(Member, member_id)
        assert member.mail_opt_out_at is None and member.invite_opt_out_at is not None
        actions = {e.action: e for e in db.session.scalars(select(AuditEntry).where(
            AuditEntry.object_type == "member", AuditEntry.object_id == str(member_id)))}
        assert {"member.mailings_opt_in", "member.invitations_opt_out"} <= set(actions)
        assert actions["member.invitations_opt_out"].actor_user_id == user_id
        assert actions["member.invitations_opt_out"].after["via"] == "manager"


def test_sending_needs_the_confirmed_count_and_is_refused_when_it_changed(
        app, client, login_as):
    from engagement.community.mailings.models import Mailing
    from engagement.mail.models import OutboxMessage

    with app.app_context():
        tier = make_tier("ConfTier", 206, "answers >= 1")
        make_member(email="c1@example.org", tier_id=tier.id)
        make_member(email="c2@example.org", tier_id=tier.id)
        segment = make_segment("Confirm people", {"tiers": ["ConfTier"]})
        mailing = mailings.save_draft(db.session, subject="Count me", body="Hi",
                                      segment=segment, now=NOW)
        db.session.commit()
        mailing_id, tier_id = mailing.id, tier.id
    login_as("manager")
    page = client.get(f"/mailings/{mailing_id}/send").get_data(as_text=True)
    assert "goes to 2 members now" in page and 'name="count" value="2"' in page
    token = csrf_token(client, f"/mailings/{mailing_id}/send")
    # No count: not a confirmation.
    assert client.post(f"/mailings/{mailing_id}/send",
                       data={"csrf_token": token}).status_code == 400
    # A third member joined the segment after the confirmation page was shown.
    with app.app_context():
        make_member(email="c3@example.org", tier_id=tier_id)
        db.session.commit()
    resp = client.post(f"/mailings/{mailing_id}/send", data={"csrf_token": token, "count": "2"})
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/send")
    with app.app_context():
        assert db.session.get(Mailing, mailing_id).status == "draft"
        assert db.session.scalar(select(OutboxMessage.id).where(
            OutboxMessage.kind == "mailing")) is None
    page = client.get(f"/mailings/{mailing_id}/send").get_data(as_text=True)
    assert "changed from 2 to 3" in page and "goes to 3 members now" in page
    resp = client.post(f"/mailings/{mailing_id}/send", data={"csrf_token": token, "count": "3"})
    with app.app_context():
        assert db.session.get(Mailing, mailing_id).recipients_count == 3
