"""Reward pages: catalogue, grant preview and confirm, approval, fulfilment, ledger, CSV."""
from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from engagement.audit import AuditEntry
from engagement.extensions import db
from engagement.rewards import init_app, services
from engagement.rewards.models import Grant, RewardItem
from engagement.timeutil import utcnow
from tests.conftest import csrf_token
from tests.factories import make_member, make_tier


@pytest.fixture
def rw(app):
    if "rewards" not in app.blueprints:
        init_app(app)
    return app


def _year() -> int:
    # The pages grant "now"; the tax year is the calendar year in the programme's zone.
    return datetime.now(ZoneInfo("Europe/Berlin")).year


def test_catalogue_grant_preview_confirm_approve_fulfil(rw, client, login_as):
    login_as("manager")
    token = csrf_token(client, "/rewards/items/new")
    r = client.post("/rewards/items/new", data={"csrf_token": token, "name": "=HYPERLINK()",
                                                "kind": "gift", "net_value": "30.00",
                                                "vat_rate": "0",
                                                "active": "y"})
    assert r.status_code == 302
    with rw.app_context():
        item = db.session.scalars(select(RewardItem)).one()
        assert (item.value, item.kind) == (Decimal("30.00"), "gift")
        tier = make_tier("Gold", 3, "score >= 0")
        a = make_member(tier_id=tier.id, display_name="-Anna")
        make_member(tier_id=tier.id)
        first = services.execute_plan(db.session, services.plan_grants(
            db.session, item_id=item.id, member_ids=[a.id], now=utcnow(),
            tz_name="Europe/Berlin"), reason="", event_id=None, by_user_id=None,
            now=utcnow(), target="member")
        services.decide(db.session, first, approve=True, by_user_id=None, now=utcnow())
        db.session.commit()
        item_id, tier_id, a_id = item.id, tier.id, a.id
    form = {"csrf_token": csrf_token(client, "/rewards/grants/new"), "target": "tier",
            "target_id": str(tier_id), "item_id": str(item_id), "reason": "@team"}
    r = client.post("/rewards/grants/new", data=form)
    html = r.get_data(as_text=True)
    assert r.status_code == 200 and "2 recipients" in html and "60.00" in html
    assert "-Anna" in html and "30.00 → 60.00" in html  # she would cross the limit
    with rw.app_context():
        assert db.session.scalar(select(db.func.count(Grant.id))) == 1
    r = client.post("/rewards/grants/new", data={**form, "confirm": "1"},
                    follow_redirects=True)
    html = r.get_data(as_text=True)
    assert "2 grants proposed" in html
    assert "1 recipient now exceeds the gift limit for" in html
    with rw.app_context():
        grant = db.session.scalars(select(Grant).where(Grant.member_id == a_id)
                                   .order_by(Grant.id.desc())).first()
        grant_id = grant.id
    # Four eyes: the proposer is refused; a second manager approves.
    token = csrf_token(client, "/rewards/grants")
    r = client.post(f"/rewards/grants/{grant_id}/approve", data={"csrf_token": token},
                    follow_redirects=True)
    assert "someone else has to approve it" in r.get_data(as_text=True)
    login_as("manager")
    token = csrf_token(client, "/rewards/grants")
    assert client.post(f"/rewards/grants/{grant_id}/approve",
                       data={"csrf_token": token}).status_code == 302
    r = client.post(f"/rewards/grants/{grant_id}/fulfilment",
                    data={"csrf_token": token, "status": "shipped", "note": "DHL 123"},
                    follow_redirects=True)
    assert "Fulfilment updated" in r.get_data(as_text=True)
    with rw.app_context():
        grant = db.session.get(Grant, grant_id)
        assert (grant.status, grant.fulfilment, grant.fulfilment_note) == (
            "approved", "shipped", "DHL 123")
        actions = db.session.scalars(select(AuditEntry.action).order_by(AuditEntry.id)).all()
        assert actions[-5:] == ["rewards.grant", "rewards.approve", "rewards.grant",
                                "rewards.approve", "rewards.fulfilment"]
    html = client.get(f"/rewards/ledger?year={_year()}").get_data(as_text=True)
    assert "over the limit" in html and "60.00" in html
    r = client.get(f"/rewards/ledger/gifts.csv?year={_year()}")
    rows = list(csv.reader(io.StringIO(r.get_data(as_text=True))))
    assert rows[0][:3] == ["grant_id", "date", "recipient"]
    assert len(rows) == 3  # Anna's two approved gifts; the other member's is only proposed
    assert {row[2] for row in rows[1:]} == {"'-Anna"}
    assert {row[4] for row in rows[1:]} == {"'=HYPERLINK()"}
    assert {row[10] for row in rows[1:]} == {"", "'@team"}


def _year_form(client, year, **changes):
    data = {"csrf_token": csrf_token(client, f"/rewards/settings?year={year}"),
            "gift_limit": "50", "gift_limit_source": "§ 4 Abs. 5 Satz 1 Nr. 1 EStG",
            "limit_basis": "net", "limit_basis_source": "R 4.10 Abs. 3 EStR",
            "flat_tax_source": "§ 37b Abs. 1 EStG", "flat_rate": "30",
            "flat_rate_source": "§ 37b EStG", "flat_tax_cap": "10000",
            "flat_tax_cap_source": "§ 37b Abs. 1 Satz 3", "giveaway_limit": "10",
            "giveaway_source": "BMF Rz. 10"}
    data.update(changes)
    return {k: v for k, v in data.items() if v is not None}


def test_settings_are_per_year_audited_and_change_only_that_year(rw, client, login_as):
    login_as("manager")
    html = client.get("/rewards/settings?year=2023").get_data(as_text=True)
    assert "35.00" in html and "Haushaltsbegleitgesetz" in html
    r = client.post("/rewards/settings?year=2025",
                    data=_year_form(client, 2025, flat_tax_opted_in="y", gift_limit="45"))
    assert r.status_code == 302
    with rw.app_context():
        s = services.tax_settings(db.session, 2025)
        assert (s.gift_limit, s.flat_tax_opted_in, s.include_hospitality) == (
            Decimal("45.00"), True, False)
        for other in (2023, 2024, 2026):
            assert not services.tax_settings(db.session, other).flat_tax_opted_in
        assert services.tax_settings(db.session, 2024).gift_limit == Decimal("50.00")
        entry = db.session.scalars(select(AuditEntry).where(
            AuditEntry.action == "rewards.tax_year")).one()
        assert entry.object_id == "2025"
        assert entry.before["gift_limit"] == "50.00" and entry.after["gift_limit"] == "45.00"
        assert (entry.before["flat_tax_opted_in"], entry.after["flat_tax_opted_in"]) == (
            False, True)
    r = client.post("/rewards/settings?year=2025",
                    data=_year_form(client, 2025, gift_limit="-1", flat_rate="130"))
    assert r.status_code == 200
    with rw.app_context():
        assert services.tax_settings(db.session, 2025).gift_limit == Decimal("45.00")


MUTATING = ["/rewards/items/new", "/rewards/items/{item}/edit", "/rewards/grants/new",
            "/rewards/grants/{grant}/approve", "/rewards/grants/{grant}/reject",
            "/rewards/grants/{grant}/fulfilment", "/rewards/settings"]


def test_hr_reads_but_cannot_change_rewards(rw, client, login_as):
    with rw.app_context():
        item = services.create_item(db.session, name="Mug", value="5", kind="gift",
                                    now=datetime(2026, 5, 1, tzinfo=UTC))
        m = make_member()
        services.execute_plan(db.session, services.plan_grants(
            db.session, item_id=item.id, member_ids=[m.id], now=utcnow(),
            tz_name="Europe/Berlin"), reason="", event_id=None, by_user_id=None,
            now=utcnow(), target="member")
        db.session.commit()
        ids = {"item": item.id, "grant": db.session.scalar(select(Grant.id))}
    login_as("hr")
    rw.config["WTF_CSRF_ENABLED"] = False
    for path in MUTATING:
        url = path.format(**ids)
        assert client.post(url, data={"status": "ordered", "name": "x", "value": "1",
                                      "kind": "gift"}).status_code == 403, url
    for path in ("/rewards/grants", "/rewards/ledger", "/rewards/ledger/gifts.csv"):
        assert client.get(path).status_code == 200, path
    html = client.get("/rewards/grants").get_data(as_text=True)
    assert "/approve" not in html and "Mug" in html
    with rw.app_context():
        assert db.session.get(Grant, ids["grant"]).status == "proposed"
