"""Programme value dashboard: figures from inserted rows, roles, and the assumptions form."""
from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select

from engagement.audit import AuditEntry
from engagement.community.models import MemberWindowStats, TierHistory
from engagement.events.models import EventStatus, InvitationStatus
from engagement.extensions import db
from engagement.programme import init_app, rules, services
from engagement.settings import get_setting
from tests.conftest import csrf_token
from tests.factories import (
    make_event,
    make_grant,
    make_invitation,
    make_member,
    make_reward_item,
    make_tier,
)

TODAY = date(2026, 6, 15)
NOW = datetime(2026, 6, 15, 12, 0, tzinfo=UTC)


@pytest.fixture
def vapp(app):
    if "programme" not in app.blueprints:
        init_app(app)
    return app


@pytest.fixture
def vapp_any(app_any):
    if "programme" not in app_any.blueprints:
        init_app(app_any)
    return app_any


def _stats(member, answers, accepted, window=365):
    db.session.add(MemberWindowStats(member_id=member.id, window_days=window, as_of=TODAY,
                                     answers=answers, accepted_solutions=accepted))


def _seed():
    gold = make_tier("Gold", 1002, "answers >= 100", color="#d4a017")
    silver = make_tier("Silver", 1001, "answers >= 10", color="#94a3b8")
    g1, g2 = make_member(tier_id=gold.id), make_member(tier_id=gold.id)
    s1 = make_member(tier_id=silver.id)
    n1 = make_member()
    _stats(g1, 300, 100)
    _stats(g2, 200, 60)
    _stats(s1, 50, 10)
    _stats(n1, 5, 0)
    _stats(g1, 999, 999, window=30)  # other windows must not count
    db.session.add_all([
        TierHistory(member_id=g1.id, from_tier_id=silver.id, to_tier_id=gold.id,
                    at=datetime(2026, 6, 2, tzinfo=UTC), kind="promotion", reason="r"),
        TierHistory(member_id=g2.id, from_tier_id=silver.id, to_tier_id=gold.id,
                    at=datetime(2026, 5, 20, tzinfo=UTC), kind="promotion", reason="r"),
        TierHistory(member_id=s1.id, from_tier_id=gold.id, to_tier_id=silver.id,
                    at=datetime(2026, 6, 3, tzinfo=UTC), kind="demotion", reason="r"),
        TierHistory(member_id=s1.id, from_tier_id=None, to_tier_id=silver.id,
                    at=datetime(2024, 1, 3, tzinfo=UTC), kind="promotion", reason="too old"),
    ])
    past = make_event("Summit", starts_at=NOW - timedelta(days=10), hours=2)
    make_invitation(past, g1, InvitationStatus.ACCEPTED, checked_in_at=past.starts_at)
    make_invitation(past, g2, InvitationStatus.ACCEPTED)
    make_invitation(past, s1, InvitationStatus.DECLINED)
    make_invitation(past, n1, InvitationStatus.INVITED)
    future = make_event("Dinner", starts_at=NOW + timedelta(days=10), hours=2)
    make_invitation(future, g1, InvitationStatus.ACCEPTED)
    make_invitation(future, s1, InvitationStatus.INVITED)
    draft = make_event("Draft", starts_at=NOW - timedelta(days=5), hours=2,
                       status=EventStatus.DRAFT)
    make_invitation(draft, g2, InvitationStatus.ACCEPTED, checked_in_at=draft.starts_at)
    item = make_reward_item("Mug", "20.00")
    for member, value, status, year in [(g1, "20.00", "approved", 2026),
                                        (g2, "30.00", "approved", 2026),
                                        (s1, "15.50", "approved", 2026),
                                        (s1, "99.00", "proposed", 2026),
                                        (g1, "40.00", "approved", 2025)]:
        make_grant(member, item, value, year=year, status=status)
    return gold, silver


def test_figures_come_from_the_rows(vapp_any):
    with vapp_any.app_context():
        gold, silver = _seed()
        data = services.value_dashboard(db.session, TODAY, NOW)
        by_name = {(r.tier.name if r.tier else None): r for r in data.tiers}
        # The migration's default tiers are there too, empty; ours rank above them.
        assert [(k, r.members, r.answers, r.accepted_solutions) for k, r in by_name.items()
                if r.members] == [("Gold", 2, 500, 160), ("Silver", 1, 50, 10), (None, 1, 5, 0)]
        assert data.top_tier.name == "Gold"
        assert by_name["Gold"].spend == Decimal("50.00")
        assert by_name["Silver"].spend == Decimal("15.50")
        assert data.spend_total == Decimal("65.50")
        assert (data.accepted_solutions, data.answers, data.power_users) == (170, 555, 2)
        assert data.deflection.contacts_from_solutions == 170
        assert data.deflection.fte == pytest.approx(170 * 8 / 60 / 1600)
        assert data.deflection.fte_rule_of_thumb == 1.0
        # Months: last 12, ending June 2026.
        assert data.months[-1] == date(2026, 6, 1) and len(data.months) == 12
        assert data.movements["promotion"][-1] == 1 and data.movements["promotion"][-2] == 1
        assert data.movements["demotion"][-1] == 1 and sum(data.movements["promotion"]) == 2
        # Invitations: drafts are ignored; acceptance over all live events.
        assert (data.invited, data.accepted) == (6, 3)
        assert data.acceptance == pytest.approx(0.5)
        assert (data.past_accepted, data.checked_in) == (2, 1)
        assert data.attendance == pytest.approx(0.5)
        assert [(e.event.title, e.invited, e.accepted, e.checked_in) for e in data.events] == [
            ("Summit", 4, 2, 1)]


def test_empty_database_renders(vapp, client, login_as):
    login_as("hr")
    resp = client.get("/programme")
    assert resp.status_code == 200
    html = resp.get_data(as_text=True)
    assert "<svg" in html and "No events with invitations have taken place yet." in html


def test_manager_sees_figures_and_changes_assumptions(vapp, client, login_as):
    with vapp.app_context():
        _seed()
        db.session.commit()
    login_as("manager")
    html = client.get("/programme").get_data(as_text=True)
    assert html.count("<svg") >= 5
    assert "Save assumptions" in html
    assert ">170<" in html  # accepted solutions in the last 365 days
    token = csrf_token(client, "/programme")
    resp = client.post("/programme/assumptions", data={
        "csrf_token": token, "solution_rate": "0.4", "contacts_per_solution": "2",
        "minutes_per_contact": "10", "hours_per_fte_year": "1500",
        "power_users_per_fte": "2"})
    assert resp.status_code == 302
    with vapp.app_context():
        stored = get_setting(db.session, rules.SETTING_KEY)
        assert stored["contacts_per_solution"] == 2.0 and stored["minutes_per_contact"] == 10.0
        entry = db.session.scalars(select(AuditEntry).where(
            AuditEntry.action == "programme.assumptions.update")).one()
        assert entry.object_id == rules.SETTING_KEY
    html = client.get("/programme").get_data(as_text=True)
    assert ">340<" in html  # 170 accepted solutions x 2 contacts


def test_invalid_assumptions_are_rejected(vapp, client, login_as):
    login_as("manager")
    token = csrf_token(client, "/programme")
    resp = client.post("/programme/assumptions", data={
        "csrf_token": token, "solution_rate": "7", "contacts_per_solution": "x",
        "minutes_per_contact": "8", "hours_per_fte_year": "1600", "power_users_per_fte": "2"})
    assert resp.status_code == 400
    assert "please correct the marked fields" in resp.get_data(as_text=True)
    with vapp.app_context():
        assert get_setting(db.session, rules.SETTING_KEY) is None


def test_hr_reads_but_cannot_change(vapp, client, login_as):
    login_as("hr")
    html = client.get("/programme").get_data(as_text=True)
    assert "Save assumptions" not in html and "Minutes per support contact" in html
    vapp.config["WTF_CSRF_ENABLED"] = False
    assert client.post("/programme/assumptions", data={"solution_rate": "0.5"}).status_code == 403


def test_members_are_refused(vapp, client, login_as):
    login_as("member")
    assert client.get("/programme").status_code == 403
