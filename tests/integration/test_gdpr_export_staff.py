"""A member's data export names staff by their role, never by address or name."""
from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from engagement import audit
from engagement.community.models import Tier, TierHistory
from engagement.extensions import db
from tests.factories import make_grant, make_member, make_reward_item, make_user

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
STAFF = [("manager", "mona.manager@staff.example", "Mona Managerin"),
         ("hr", "harald.hr@staff.example", "Harald Prüfer"),
         ("admin", "ada.admin@staff.example", "Ada Admin")]


@pytest.fixture(autouse=True)
def _records(app):
    if "records" not in app.blueprints:
        from engagement import records

        records.init_app(app)


def _seed() -> int:
    staff = {role: make_user(role=role, email=email, name=name) for role, email, name in STAFF}
    member = make_member(display_name="Paula Poweruser", email="paula@example.net")
    user = make_user(role="member", email="paula@example.net", name="Paula Poweruser",
                     member_id=member.id)
    tier = db.session.scalars(select(Tier).where(Tier.name == "Expert")).one()
    manager_actor = f"manager:{STAFF[0][1]}"
    db.session.add(TierHistory(member_id=member.id, from_tier_id=None, to_tier_id=tier.id,
                               at=NOW, kind="override",
                               reason=f"set by {STAFF[0][2]} after a call",
                               actor=manager_actor))
    item = make_reward_item("Hoodie", "30.00")
    make_grant(member, item, granted_by_id=staff["manager"].id,
               approved_by_id=staff["hr"].id, reason=f"thanks from {STAFF[0][2]}")
    # Audit entries about the member, made by staff, naming staff in their values.
    audit.record(db.session, "member.override", "member", member.id,
                 before={"tier": None},
                 after={"tier": "Expert", "by": manager_actor,
                        "note": f"ask {STAFF[0][1]} for details"}, actor=manager_actor)
    audit.record(db.session, "rewards.approve", "reward_grant", 1,
                 after={"status": "approved", "approver": STAFF[1][1]},
                 actor=f"hr:{STAFF[1][1]}", subject_member_id=member.id)
    audit.record(db.session, "user.update", "member", member.id,
                 after={"changed_by": STAFF[2][2]}, actor=f"admin:{STAFF[2][1]}")
    db.session.commit()
    return user.id


def test_member_export_shows_staff_as_their_role(app, client):
    with app.app_context():
        user_id = _seed()
    with client.session_transaction() as sess:
        sess["_user_id"] = str(user_id)
        sess["_fresh"] = True
    resp = client.get("/me/data.json")
    assert resp.status_code == 200
    body = resp.get_data(as_text=True)
    for _role, email, name in STAFF:
        assert email not in body and email.split("@")[0] not in body
        assert name not in body
    data = resp.get_json(force=True)
    assert data["tier_history"][0]["actor"] == "community manager"
    assert data["tier_history"][0]["reason"] == "set by community manager after a call"
    grant = data["reward_grants"][0]
    assert grant["granted_by_id"] == "community manager"
    assert grant["approved_by_id"] == "HR/legal reviewer"
    actors = [e["actor"] for e in data["audit_entries"]]
    assert actors == ["community manager", "HR/legal reviewer", "administrator"]
    assert data["audit_entries"][0]["after"]["by"] == "community manager"
    # The member's own identity stays in their own export.
    assert data["member"]["email"] == "paula@example.net"
    assert data["users"][0]["email"] == "paula@example.net"
