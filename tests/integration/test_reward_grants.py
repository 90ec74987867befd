"""Reward grants: services (single, event attendees, tier), approval, fulfilment, audit, API."""
from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from engagement.accounts.services import create_token
from engagement.audit import AuditEntry
from engagement.community.tiers.services import tier_member_ids
from engagement.events.models import Event, Invitation, InvitationStatus
from engagement.extensions import db
from engagement.rewards import init_app, services
from engagement.rewards.models import Grant
from engagement.rewards.rules import Flag
from tests.factories import make_member, make_tier, make_user

NOW = datetime(2026, 6, 1, 10, 0, tzinfo=UTC)
TZ = "Europe/Berlin"
D = Decimal


@pytest.fixture
def rw(app):
    if "rewards" not in app.blueprints:
        init_app(app)
    with app.app_context():
        yield app


@pytest.fixture
def rw_any(app_any):
    if "rewards" not in app_any.blueprints:
        init_app(app_any)
    with app_any.app_context():
        yield app_any


def _set_year(year, **changes):
    """Change one year's tax rules as a manager would (audited, other years untouched)."""
    current = services.tax_settings(db.session, year)
    return services.save_tax_year(db.session, year, dataclasses.replace(current, **changes),
                                  now=NOW, current_year=NOW.year)


def _item(value="25.00", kind="gift"):
    return services.create_item(db.session, name=f"Mug {value}", value=value, kind=kind, now=NOW)


def _grant(member_ids, item, now=NOW, approve=True):
    plan = services.plan_grants(db.session, item_id=item.id, member_ids=member_ids, now=now,
                                tz_name=TZ)
    services.execute_plan(db.session, plan, reason="thanks", event_id=None, by_user_id=None,
                          now=now, target="member")
    if approve:
        for grant in db.session.scalars(select(Grant).where(
                Grant.status == "proposed", Grant.item_id == item.id)).all():
            services.decide(db.session, grant, approve=True, by_user_id=None, now=now)
    return plan


def test_ledger_flags_at_49_99_50_00_50_01_and_across_years(rw_any):
    a, b, c = make_member(), make_member(), make_member()
    _grant([a.id, b.id, c.id], _item("25.00"))
    _grant([a.id], _item("24.99"))
    _grant([b.id], _item("25.00"))
    plan = _grant([c.id], _item("25.01"))
    assert [x.member_id for x in plan.preview.crossing] == [c.id]
    _grant([a.id], _item("30.00"), now=datetime(2027, 1, 5, tzinfo=UTC))
    lines = {ln.member_id: ln for ln in services.ledger(db.session, 2026, TZ)}
    assert [(lines[m].total, lines[m].flag) for m in (a.id, b.id, c.id)] == [
        (D("49.99"), Flag.OK), (D("50.00"), Flag.AT_LIMIT), (D("50.01"), Flag.OVER)]
    assert all(ln.tax is None for ln in lines.values())
    nxt = services.ledger(db.session, 2027, TZ)
    assert [(ln.member_id, ln.total, ln.flag) for ln in nxt] == [(a.id, D("30.00"), Flag.OK)]


def test_ledger_counts_approved_not_cancelled_but_warnings_count_proposals(rw_any):
    m = make_member()
    _grant([m.id], _item("30.00"), approve=False)
    assert services.ledger(db.session, 2026, TZ) == []
    plan = services.plan_grants(db.session, item_id=_item("20.01").id, member_ids=[m.id],
                                now=NOW, tz_name=TZ)
    assert [c.after for c in plan.preview.crossing] == [D("50.01")]
    grant = db.session.scalars(select(Grant)).one()
    services.decide(db.session, grant, approve=True, by_user_id=None, now=NOW)
    assert [ln.total for ln in services.ledger(db.session, 2026, TZ)] == [D("30.00")]
    services.set_fulfilment(db.session, grant, status="cancelled", note="out of stock",
                            now=NOW)
    assert services.ledger(db.session, 2026, TZ) == []


def test_rejected_grants_and_hospitality_do_not_count_and_tax_when_opted_in(rw):
    m = make_member()
    _grant([m.id], _item("40.00", "hospitality"))
    _grant([m.id], _item("20.00"), approve=False)
    rejected = db.session.scalars(select(Grant).where(Grant.value == D("20.00"))).one()
    services.decide(db.session, rejected, approve=False, by_user_id=None, now=NOW)
    _grant([m.id], _item("10.00"))
    assert [(ln.total, ln.tax) for ln in services.ledger(db.session, 2026, TZ)] == [
        (D("10.00"), None)]
    _set_year(2026, include_hospitality=True, flat_tax_opted_in=True)
    (line,) = services.ledger(db.session, 2026, TZ)
    # Hospitality counts for the limit but never for § 37b; the 10.00 gift is a give-away.
    assert (line.total, line.flag, line.flat_base, line.tax, line.giveaways) == (
        D("50.00"), Flag.AT_LIMIT, D("0.00"), D("0.00"), D("10.00"))


def test_event_hospitality_counts_per_attendee_when_configured(rw_any):
    ev = Event(uid="u2", title="Dinner", starts_at=NOW, ends_at=NOW + timedelta(hours=2),
               timezone=TZ, organizer_email="o@example.org", per_attendee_cost=D("45.00"))
    db.session.add(ev)
    db.session.flush()
    came, declined = make_member(), make_member()
    db.session.add_all([
        Invitation(event_id=ev.id, member_id=came.id, status=InvitationStatus.ACCEPTED,
                   nonce="n"),
        Invitation(event_id=ev.id, member_id=declined.id, status=InvitationStatus.DECLINED,
                   nonce="n")])
    _grant([came.id], _item("5.00"))
    assert [ln.total for ln in services.ledger(db.session, 2026, TZ)] == [D("5.00")]
    _set_year(2026, include_hospitality=True)
    lines = services.ledger(db.session, 2026, TZ)
    assert [(ln.member_id, ln.total, ln.flag) for ln in lines] == [
        (came.id, D("50.00"), Flag.AT_LIMIT)]
    plan = services.plan_grants(db.session, item_id=_item("0.01").id, member_ids=[came.id],
                                now=NOW, tz_name=TZ)
    assert [c.after for c in plan.preview.crossing] == [D("50.01")]
    assert services.ledger(db.session, 2025, TZ) == []


def test_event_attendees_prefer_check_in_then_accepted(rw):
    ev = Event(uid="u1", title="Meetup", starts_at=NOW, ends_at=NOW + timedelta(hours=2),
               timezone=TZ, organizer_email="o@example.org")
    db.session.add(ev)
    db.session.flush()
    acc, inv, checked = make_member(), make_member(), make_member()
    for m, st, at in ((acc, InvitationStatus.ACCEPTED, None),
                      (inv, InvitationStatus.INVITED, None),
                      (checked, InvitationStatus.ACCEPTED, None)):
        db.session.add(Invitation(event_id=ev.id, member_id=m.id, status=st, nonce="n",
                                  checked_in_at=at))
    db.session.flush()
    ids = lambda: sorted(db.session.scalars(services.event_attendee_ids(ev.id)))  # noqa: E731
    assert ids() == sorted([acc.id, checked.id])
    db.session.execute(Invitation.__table__.update().where(Invitation.member_id == checked.id)
                       .values(checked_in_at=NOW))
    assert ids() == [checked.id]


def test_tier_preview_then_grant_writes_one_audit_entry(rw):
    tier = make_tier("Gold", 3, "score >= 0")
    members = [make_member(tier_id=tier.id) for _ in range(3)]
    make_member()  # not in the tier
    item = _item("49.99")
    _grant([members[0].id], _item("0.02"))
    plan = services.plan_grants(db.session, item_id=item.id,
                                member_ids=tier_member_ids(tier.id), now=NOW,
                                tz_name=TZ)
    assert (plan.preview.count, plan.preview.total) == (3, D("149.97"))
    assert [c.member_id for c in plan.preview.crossing] == [members[0].id]
    assert db.session.scalar(select(func.count(Grant.id))) == 1  # preview wrote nothing
    before = db.session.scalar(select(func.count(AuditEntry.id)))
    services.execute_plan(db.session, plan, reason="tier", event_id=None, by_user_id=None,
                          now=NOW, target=f"tier:{tier.id}")
    assert db.session.scalar(select(func.count(Grant.id))) == 4
    entries = db.session.scalars(select(AuditEntry).where(AuditEntry.id > before)).all()
    assert [(e.action, e.after["count"], e.after["total"]) for e in entries] == [
        ("rewards.grant", 3, "149.97")]


def test_approval_and_fulfilment_are_audited_and_ordered(rw):
    m = make_member()
    _grant([m.id], _item(), approve=False)
    grant = db.session.scalars(select(Grant)).one()
    with pytest.raises(services.RewardError):
        services.set_fulfilment(db.session, grant, status="ordered", note="", now=NOW)
    services.decide(db.session, grant, approve=True, by_user_id=None, now=NOW)
    with pytest.raises(services.RewardError):
        services.decide(db.session, grant, approve=False, by_user_id=None, now=NOW)
    services.set_fulfilment(db.session, grant, status="ordered", note="shop #1", now=NOW)
    services.set_fulfilment(db.session, grant, status="delivered", note="signed", now=NOW)
    with pytest.raises(services.RewardError):
        services.set_fulfilment(db.session, grant, status="cancelled", note="", now=NOW)
    actions = db.session.scalars(select(AuditEntry.action).where(
        AuditEntry.object_type == "reward_grant").order_by(AuditEntry.id)).all()
    assert actions == ["rewards.grant", "rewards.approve", "rewards.fulfilment",
                       "rewards.fulfilment"]
    assert (grant.fulfilment, grant.fulfilment_note) == ("delivered", "signed")


@pytest.fixture
def api(rw, client):
    manager, hr = make_user("manager"), make_user("hr")
    _t, token = create_token(db.session, manager, "t")
    _t, hr_token = create_token(db.session, hr, "t")
    db.session.commit()

    def call(method, path, token_=None, **kw):
        headers = {"Authorization": f"Bearer {token_ or token}"}
        return client.open("/api/v1" + path, method=method, headers=headers, **kw)

    call.hr_token = hr_token
    return call


def test_api_items_and_grant_with_warning(api):
    m = make_member()
    item = _item("30.00")
    _grant([m.id], _item("20.01"))
    db.session.commit()
    items = api("GET", "/rewards/items", api.hr_token).get_json()["items"]
    assert {"id": item.id, "name": "Mug 30.00", "value": "30.00", "net_value": "30.00",
            "vat_rate": "0.00", "kind": "gift"} in items
    r = api("POST", "/rewards/grants", json={"member_id": m.id, "item_id": item.id,
                                             "reason": "top answer"})
    assert r.status_code == 201, r.get_json()
    body = r.get_json()
    assert (body["value"], body["net_value"], body["vat_rate"], body["status"],
            body["member_id"]) == ("30.00", "30.00", "0.00", "proposed", m.id)
    assert len(body["warnings"]) == 1 and "50.01" in body["warnings"][0]
    assert api("POST", "/rewards/grants", api.hr_token,
               json={"member_id": m.id, "item_id": item.id}).status_code == 403


@pytest.mark.parametrize("payload", [
    None, {}, {"member_id": "x", "item_id": 1}, {"member_id": 999999, "item_id": 1},
    {"member_id": 1, "item_id": 999999}, {"member_id": True, "item_id": 1},
])
def test_api_grant_rejects_bad_input(api, payload):
    make_member()
    db.session.commit()
    r = api("POST", "/rewards/grants", json=payload) if payload is not None else api(
        "POST", "/rewards/grants", data="nope")
    assert r.status_code in (400, 422), r.get_data(as_text=True)


def test_item_over_the_limit_warns_for_every_recipient(rw_any):
    tier = make_tier("Gold", 3, "score >= 0")
    members = [make_member(tier_id=tier.id) for _ in range(3)]
    _grant([members[1].id], _item("1.00"))
    plan = services.plan_grants(db.session, item_id=_item("60.00").id,
                                member_ids=tier_member_ids(tier.id), now=NOW,
                                tz_name=TZ)
    assert plan.preview.crossing_count == 3
    assert sorted((c.member_id, c.after) for c in plan.preview.crossing) == sorted(
        [(members[0].id, D("60.00")), (members[1].id, D("61.00")),
         (members[2].id, D("60.00"))])
    assert services.execute_plan(db.session, plan, reason="", event_id=None, by_user_id=None,
                                 now=NOW, target="tier") == 3
    single = _grant([members[0].id], _item("2.00"))
    entry = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "rewards.grant")
                               .order_by(AuditEntry.id.desc())).first()
    grant = db.session.scalars(select(Grant).order_by(Grant.id.desc())).first()
    assert (entry.object_id, entry.after["count"], single.preview.crossing_count) == (
        str(grant.id), 1, 0)
    assert (grant.member_id, grant.value, grant.year, grant.status) == (
        members[0].id, D("2.00"), 2026, "approved")
