"""GDPR export and erasure: the member's data leaves, the records the law needs stay."""
from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select, text

from engagement import audit
from engagement.accounts.models import LoginAttempt, User
from engagement.accounts.signin.links import MagicLink
from engagement.community.models import ContributionDay, ImportIssue, ImportRun, Member
from engagement.events.calendar.models import CalendarFeed
from engagement.events.models import Event, Invitation, InvitationConsent, InvitationStatus
from engagement.extensions import db
from engagement.mail.models import OutboxMessage
from engagement.records.gdpr import services as gdpr
from tests.conftest import csrf_token
from tests.factories import add_days, make_grant, make_member, make_reward_item, make_user

NAME = "Zebulon Quixotic-Fairweather"
EMAIL = "zebulon.qf@unique-example.test"
NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _records(app):
    if "records" not in app.blueprints:
        from engagement import records

        records.init_app(app)


def _seed() -> dict:
    """A member with personal data in every table that can hold it."""
    member = make_member(display_name=NAME, email=EMAIL, external_id="ext-42", region="Köln")
    user = make_user(role="member", email=EMAIL, name=NAME, member_id=member.id)
    add_days(member, {NOW.date() - timedelta(days=3): {"answers": 4}})
    event = Event(uid="evt-1@test", title="Summit", starts_at=NOW + timedelta(days=10),
                  ends_at=NOW + timedelta(days=10, hours=2), timezone="Europe/Berlin",
                  organizer_email="org@example.org")
    db.session.add(event)
    db.session.flush()
    inv = Invitation(event_id=event.id, member_id=member.id, nonce="n" * 32,
                     status=InvitationStatus.ACCEPTED,
                     answers={"1": f"Please seat me next to {NAME}'s colleague"})
    db.session.add(inv)
    db.session.flush()
    db.session.add(InvitationConsent(invitation_id=inv.id, key="photo", version=1,
                                     text="Photos may be taken", given=True, at=NOW))
    db.session.add(MagicLink(email=EMAIL, user_id=user.id, member_id=member.id,
                             token_hash="h" * 64, ip="10.0.0.1", created_at=NOW,
                             expires_at=NOW + timedelta(minutes=15)))
    db.session.add(CalendarFeed(member_id=member.id, token="feedtoken", created_at=NOW))
    db.session.add(OutboxMessage(kind="event.invite", from_addr="org@example.org",
                                 to_addr=EMAIL, subject="Your invitation",
                                 message_id="<m1@test>", raw=f"To: {NAME} <{EMAIL}>".encode(),
                                 payload={"name": NAME}, member_id=member.id))
    run = ImportRun(format="csv", source="test")
    db.session.add(run)
    db.session.flush()
    db.session.add(ImportIssue(run_id=run.id, file="members.csv", line=3,
                               reason=f"duplicate e-mail {EMAIL}", external_id="ext-42"))
    db.session.add(LoginAttempt(email=EMAIL, ip="10.0.0.1", at=NOW, success=True))
    audit.record(db.session, "member.update", "member", member.id,
                 before={"email": "old@example.org"}, after={"email": EMAIL}, actor="cli:test")
    # The member acting while logged in, and their RSVP with a free-text answer.
    audit.record(db.session, "calendar_feed.create", "member", member.id,
                 after={"feed_id": 1}, actor=f"member:{EMAIL}")
    audit.record(db.session, "invitation.rsvp", "invitation", inv.id,
                 before={"status": "invited"},
                 after={"status": "accepted", "answers": {"1": "vegetarian, nut allergy"}},
                 actor=f"invitee:{member.id}")
    # Someone else's entry, which the erasure must leave alone.
    audit.record(db.session, "tier.update", "tier", 1, before={"name": "Expert"},
                 after={"name": "Experts"}, actor="manager:mgr@example.org")
    ids = {"member": member.id, "user": user.id, "invitation": inv.id}
    item = make_reward_item("Mug", "19.90")
    grant = make_grant(member, item, year=2026, status="proposed",
                       reason=f"Top answerer {NAME}",
                       fulfilment_note=f"Ship to {NAME}, Domstr. 1, Köln")
    ids["grant"] = grant.id
    audit.record(db.session, "rewards.fulfilment", "reward_grant", grant.id,
                 before={"fulfilment": "ordered"},
                 after={"fulfilment": "shipped", "note": grant.fulfilment_note})
    db.session.commit()
    return ids


def _dump() -> list[str]:
    raw = db.engine.raw_connection()
    try:
        return list(raw.driver_connection.iterdump())
    finally:
        raw.close()


def test_erasure_leaves_no_personal_data_but_keeps_tax_records(app, client, login_as):
    with app.app_context():
        ids = _seed()
        # Sanity: the dump does contain the data before erasure (the search can fail).
        assert any(NAME in line for line in _dump())
    login_as("hr")
    path = f"/records/members/{ids['member']}/erase"
    token = csrf_token(client, path)
    wrong = client.post(path, data={"csrf_token": token, "confirm_name": "someone else"})
    assert wrong.status_code == 200
    assert "does not match" in wrong.get_data(as_text=True)
    resp = client.post(path, data={"csrf_token": token, "confirm_name": NAME})
    assert resp.status_code == 302

    with app.app_context():
        # The audit log is append-only and hash-chained; its past entries are retained
        # under the legal duty to keep an audit trail (Art. 17(3)(b)/(e)).
        leaks = [line for line in _dump()
                 if (NAME in line or EMAIL in line or "ext-42" in line)
                 and not line.startswith('INSERT INTO "audit_log"')]
        assert leaks == []
        member = db.session.get(Member, ids["member"])
        assert member.display_name == f"Erased member #{member.id}"
        assert member.email is None and member.region is None
        assert member.external_id.startswith("erased-")
        user = db.session.get(User, ids["user"])
        assert user.active is False and user.password_hash is None
        assert db.session.scalars(select(MagicLink)).all() == []
        assert db.session.scalars(select(CalendarFeed)).all() == []
        assert db.session.scalars(select(OutboxMessage)).all() == []
        inv = db.session.get(Invitation, ids["invitation"])
        assert inv.status == InvitationStatus.ACCEPTED and inv.answers is None
        assert db.session.scalar(select(ContributionDay.answers)) == 4
        from engagement.rewards.models import Grant

        grant = db.session.get(Grant, ids["grant"])
        assert grant.value == Decimal("19.90") and grant.year == 2026
        assert grant.member_id == ids["member"]
        assert grant.reason == f"Top answerer Erased member #{member.id}"
        entry = db.session.scalars(select(audit.AuditEntry)
                                   .order_by(audit.AuditEntry.id.desc())).first()
        assert entry.action == "member.erased" and entry.object_id == str(ids["member"])
        text = json.dumps(entry.after) + entry.actor
        assert NAME not in text and EMAIL not in text
        assert entry.after["counts"]["magic_links"] == 1
        result = audit.verify(db.session)
        assert result.ok and result.redacted == 4
        redaction = db.session.scalars(select(audit.AuditEntry).where(
            audit.AuditEntry.action == audit.REDACTED)).one()
        assert redaction.object_id == str(ids["member"])
        rsvp = db.session.scalars(select(audit.AuditEntry).where(
            audit.AuditEntry.action == "invitation.rsvp")).one()
        # The trail stays (what happened, when), the personal content goes.
        assert rsvp.after == {"status": "accepted", "answers": "[erased]"}
        assert rsvp.redacted_by == redaction.id and rsvp.id in redaction.after["entries"]
        feed = db.session.scalars(select(audit.AuditEntry).where(
            audit.AuditEntry.action == "calendar_feed.create")).one()
        assert feed.actor == f"member:Erased member #{ids['member']}"
        other = db.session.scalars(select(audit.AuditEntry).where(
            audit.AuditEntry.action == "tier.update")).one()
        assert other.redacted_by is None and other.salt is not None
        assert other.actor == "manager:mgr@example.org"
        # A re-import of the same platform user can recognise the erasure.
        assert gdpr.is_erased(db.session, app.config["SECRET_KEY"], "test", "ext-42")
        assert not gdpr.is_erased(db.session, app.config["SECRET_KEY"], "test", "ext-43")


def test_erase_twice_is_refused(app, client, login_as):
    with app.app_context():
        ids = _seed()
        gdpr.erase_member(db.session, ids["member"], key="k")
        db.session.commit()
        with pytest.raises(ValueError):
            gdpr.erase_member(db.session, ids["member"], key="k")
    login_as("hr")
    page = client.get(f"/records/members/{ids['member']}/erase").get_data(as_text=True)
    assert "has been erased" in page


def test_member_downloads_own_data(app, client):
    with app.app_context():
        ids = _seed()
        other = make_member(display_name="Someone Else")
        db.session.commit()
        other_id = other.id
    with client.session_transaction() as sess:
        sess["_user_id"] = str(ids["user"])
        sess["_fresh"] = True
    resp = client.get("/me/data.json")
    assert resp.status_code == 200
    assert resp.headers["Content-Disposition"].startswith("attachment;")
    data = resp.get_json(force=True)
    assert data["member"]["display_name"] == NAME
    assert data["member"]["id"] == ids["member"]
    assert data["users"][0]["email"] == EMAIL and "password_hash" not in data["users"][0]
    assert data["contribution_days"][0]["answers"] == 4
    assert data["invitations"][0]["answers"]["question #1 (removed)"].startswith("Please seat me")
    assert "nonce" not in data["invitations"][0]
    assert data["invitation_consents"][0]["key"] == "photo"
    assert data["calendar_feeds"][0]["member_id"] == ids["member"]
    assert "token" not in data["calendar_feeds"][0]
    assert "token_hash" not in data["magic_links"][0]
    assert data["mail_received"] == [{"kind": "event.invite", "subject": "Your invitation",
                                      "status": "queued", "created_at": data["mail_received"][0]
                                      ["created_at"], "sent_at": None}]
    assert data["audit_entries"][0]["after"] == {"email": EMAIL}
    assert data["audit_entries"][0]["actor"] == "cli"
    assert data["reward_grants"][0]["value"] == "19.90"
    body = resp.get_data(as_text=True)
    assert "Someone Else" not in body and "feedtoken" not in body
    assert client.get(f"/records/members/{other_id}/export").status_code == 403


def test_hr_export_and_roles(app, client, login_as):
    with app.app_context():
        ids = _seed()
    login_as("manager")
    assert client.get(f"/records/members/{ids['member']}/export").status_code == 403
    assert client.get(f"/records/members/{ids['member']}/erase").status_code == 403
    login_as("hr")
    resp = client.get(f"/records/members/{ids['member']}/export")
    assert resp.status_code == 200 and resp.get_json(force=True)["member"]["email"] == EMAIL
    assert client.get("/records/members/999999/export").status_code == 404
    assert client.get("/records/members/999999/erase").status_code == 404


def test_erasure_on_each_backend(app_any):
    with app_any.app_context():
        ids = _seed()
        counts = gdpr.erase_member(db.session, ids["member"], key="k")
        db.session.commit()
        assert counts["outbox_messages"] == 1 and counts["calendar_feeds"] == 1
        assert counts["import_issues_scrubbed"] == 1
        member = db.session.get(Member, ids["member"])
        assert member.email is None and member.display_name.startswith("Erased member #")
        assert db.session.get(Invitation, ids["invitation"]).answers is None
        from engagement.rewards.models import Grant

        grant = db.session.get(Grant, ids["grant"])
        assert grant.value == Decimal("19.90") and NAME not in grant.reason
        assert grant.fulfilment_note == ""
        assert counts["audit_entries_redacted"] == 4
        result = audit.verify(db.session)
        assert result.ok and result.redacted == counts["audit_entries_redacted"]
        left = db.session.execute(text(
            "SELECT count(*) FROM audit_log WHERE actor LIKE :p OR CAST(before AS TEXT) LIKE :p"
            " OR CAST(after AS TEXT) LIKE :p OR CAST(after AS TEXT) LIKE :q"),
            {"p": f"%{EMAIL}%", "q": "%nut allergy%"}).scalar()
        assert left == 0


def test_reimport_does_not_bring_an_erased_member_back(app, tmp_path):
    from engagement.community.importers.services import run_import
    from engagement.community.models import Member

    (tmp_path / "members.csv").write_text(
        "external_id,display_name,email,joined_at,locale,region\n"
        "u1,Gerda Vergessen,gerda@example.org,2024-01-05,de,Bayern\n"
        "u2,Karl Bleibt,karl@example.org,2024-02-01,de,Berlin\n", encoding="utf-8")
    (tmp_path / "contributions.csv").write_text(
        "external_id,day,posts,answers,accepted_solutions,kudos_received\n"
        "u1,2026-03-01,2,2,1,3\nu1,2026-03-02,1,1,0,0\nu2,2026-03-01,4,3,1,2\n",
        encoding="utf-8")
    paths = [tmp_path / "members.csv", tmp_path / "contributions.csv"]
    with app.app_context():
        assert run_import(db.session, paths, "csv", "forum").status == "completed"
        gerda = db.session.scalar(select(Member).where(Member.external_id == "u1"))
        gerda_id = gerda.id
        gdpr.erase_member(db.session, gerda_id, key=app.config["SECRET_KEY"])
        db.session.commit()

        run = run_import(db.session, paths, "csv", "forum")
        assert run.status == "completed" and run.members_created == 0
        assert run.rows_skipped == 3  # her member row and her two days
        members = db.session.scalars(select(Member).where(Member.source == "forum")).all()
        assert len(members) == 2
        assert all("Gerda" not in m.display_name and m.email != "gerda@example.org"
                   for m in members)
        assert db.session.get(Member, gerda_id).external_id.startswith("erased-")
        karl = db.session.scalar(select(Member).where(Member.external_id == "u2"))
        assert karl.answers == 3
