"""The member's data download: a readable page plus the JSON, with event titles, question
texts and tier names, and complete (every RSVP audit entry, the sign-in-link rows)."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from engagement.accounts.signin.links import MagicLink
from engagement.community.models import Tier, TierHistory
from engagement.events.checkin.rules import CheckinWindow
from engagement.events.checkin.services import check_in
from engagement.events.models import EventConsent, EventQuestion, Invitation
from engagement.events.rsvp import services as rsvp
from engagement.extensions import db
from engagement.records import agreements
from engagement.records.models import EventRole
from engagement.records.volunteer.services import create_agreement_version
from tests.factories import (
    make_event,
    make_grant,
    make_invitation,
    make_member,
    make_reward_item,
    make_user,
)

NOW = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)


def _seed() -> dict:
    expert = db.session.scalars(select(Tier).where(Tier.name == "Expert")).one()
    member = make_member(display_name="Rita Readable", email="rita@example.net",
                         tier_id=expert.id)
    user = make_user(role="member", email="rita@example.net", member_id=member.id)
    manager = make_user(role="manager", email="mona@staff.example", name="Mona Staff")
    event = make_event("Power User Summit", days=5, capacity=1)
    question = EventQuestion(event_id=event.id, position=0, kind="text",
                             label="Dietary needs", required=False)
    db.session.add(question)
    db.session.add(EventConsent(event_id=event.id, key="photos", version=1,
                                text="Photos of me may be published.", required=False))
    db.session.flush()
    first = make_invitation(event, make_member(display_name="Seat Holder"))
    mine = make_invitation(event, member)
    # Five RSVP entries about Rita: waitlisted, offered a seat, took it, checked in, and a
    # consent withdrawal; plus the other member's entries which are not hers.
    rsvp.respond(db.session, first, "accepted", now=NOW)
    rsvp.respond(db.session, mine, "accepted", now=NOW, answers={str(question.id): "vegan"},
                 consents={"photos": True})
    rsvp.respond(db.session, first, "declined", now=NOW + timedelta(minutes=1))
    rsvp.respond(db.session, mine, "accepted", now=NOW + timedelta(minutes=2))
    # The event is days ahead: a window open all week lets the door record her arrival now.
    check_in(db.session, db.session.get(Invitation, mine.id), now=NOW + timedelta(minutes=3),
             source="door", window=CheckinWindow(opens_before=timedelta(days=7)))
    from engagement.events.rsvp.consents import withdraw_consent

    withdraw_consent(db.session, mine, "photos", now=NOW + timedelta(minutes=4))
    # A sign-in link for her existing login: it references the user, not the member.
    db.session.add(MagicLink(email="rita@example.net", user_id=user.id, member_id=None,
                             token_hash="f" * 64, ip="10.1.2.3", created_at=NOW,
                             expires_at=NOW + timedelta(minutes=15)))
    db.session.add(TierHistory(member_id=member.id, from_tier_id=None, to_tier_id=expert.id,
                               at=NOW, kind="override", reason="long-time helper",
                               actor=f"manager:{manager.email}"))
    nda = create_agreement_version(db.session, key="nda", title="Summit NDA",
                                   text="Keep it secret.", now=NOW)
    agreements.accept(db.session, member.id, nda.id, source="member page", now=NOW)
    make_grant(member, make_reward_item("Hoodie", "30.00"), granted_by_id=manager.id,
               event_id=event.id)
    db.session.add(EventRole(event_id=event.id, member_id=member.id, role="speaker",
                             hours=2, note="keynote"))
    db.session.commit()
    return {"user": user.id, "member": member.id, "mine": mine.id, "first": first.id}


def _as(client, user_id: int) -> None:
    with client.session_transaction() as sess:
        sess["_user_id"] = str(user_id)
        sess["_fresh"] = True


def test_json_names_things_and_is_complete(app, client):
    with app.app_context():
        ids = _seed()
    _as(client, ids["user"])
    resp = client.get("/me/data.json")
    assert resp.status_code == 200
    assert resp.headers["Content-Disposition"].startswith("attachment;")
    data = resp.get_json(force=True)
    body = resp.get_data(as_text=True)
    assert data["member"]["tier"] == "Expert"
    inv = data["invitations"][0]
    assert inv["event"] == "Power User Summit" and inv["event_id"]
    assert inv["answers"] == {"Dietary needs": "vegan"}
    assert [c["event"] for c in data["invitation_consents"]] == ["Power User Summit"] * 2
    assert data["invitation_consents"][-1]["withdrawn"] is True
    assert data["tier_history"][0]["to_tier"] == "Expert"
    assert data["tier_history"][0]["actor"] == "community manager"
    assert data["agreement_acceptances"][0]["agreement"] == "Summit NDA (version 1)"
    assert data["reward_grants"][0]["item"] == "Hoodie"
    assert data["reward_grants"][0]["granted_by_id"] == "community manager"
    assert data["event_roles"][0]["event"] == "Power User Summit"
    # The sign-in link of her login, without its hash.
    assert [m["ip"] for m in data["magic_links"]] == ["10.1.2.3"]
    assert "token_hash" not in data["magic_links"][0] and "f" * 64 not in body
    actions = [e["action"] for e in data["audit_entries"]]
    for action in ("invitation.rsvp", "invitation.offer", "invitation.checked_in",
                   "invitation.consent_withdrawn", "records.agreement_accepted"):
        assert action in actions, action
    rsvps = [e for e in data["audit_entries"] if e["action"] == "invitation.rsvp"]
    assert len(rsvps) == 2  # waitlisted, then took the offered seat; not the other member's
    assert rsvps[0]["after"]["answers"] == {"Dietary needs": "vegan"}
    assert rsvps[0]["event"] == "Power User Summit"
    offer = next(e for e in data["audit_entries"] if e["action"] == "invitation.offer")
    assert offer["after"]["invitations"] == [ids["mine"]]
    assert "Seat Holder" not in body and "mona@staff.example" not in body
    assert "Mona Staff" not in body


def test_page_is_readable_and_only_for_the_member(app, client, login_as):
    with app.app_context():
        ids = _seed()
    _as(client, ids["user"])
    page = client.get("/me/data")
    assert page.status_code == 200 and page.mimetype == "text/html"
    html = page.get_data(as_text=True)
    for text in ("Power User Summit", "Dietary needs", "vegan", "Expert", "Sign-in links",
                 "10.1.2.3", "Summit NDA (version 1)", "Hoodie", "Change log entries",
                 "community manager", 'href="/me/data.json"'):
        assert text in html, text
    assert "f" * 64 not in html and "mona@staff.example" not in html
    login_as("manager")
    assert client.get("/me/data").status_code == 403
    assert client.get("/me/data.json").status_code == 403
