"""Browser check of the programme value dashboard: a manager opens it and the charts render."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from engagement.community.models import Member
from engagement.events.models import InvitationStatus
from engagement.extensions import db
from engagement.programme import init_app
from engagement.timeutil import utcnow
from tests.factories import make_event, make_grant, make_invitation, make_reward_item
from tests.helpers import seed_community

pytestmark = pytest.mark.browser


def _seed_events_and_rewards(app) -> None:
    now = utcnow()
    with app.app_context():
        members = list(db.session.scalars(select(Member).order_by(Member.id).limit(12)))
        for n, title in enumerate(["Spring meetup", "Summer summit", "Autumn dinner"]):
            ev = make_event(title, starts_at=now - timedelta(days=200 - 70 * n), hours=2)
            for i, m in enumerate(members):
                status = (InvitationStatus.ACCEPTED if (i + n) % 3 else
                          InvitationStatus.DECLINED)
                checked_in = status == InvitationStatus.ACCEPTED and i % 4
                make_invitation(ev, m, status, checked_in_at=ev.starts_at if checked_in else None)
        item = make_reward_item("Hoodie", "35.00")
        for m in members:
            make_grant(m, item, year=now.year, status="approved")
        db.session.commit()


def test_manager_sees_value_charts(live_server, page, login, screenshot):
    app = live_server.app
    if "programme" not in app.blueprints:
        init_app(app)
    data = seed_community(app)
    _seed_events_and_rewards(app)
    login(page, data["manager"])
    page.goto(f"{live_server.url}/programme")
    assert page.locator("h1").inner_text() == "Programme value"
    charts = page.locator("svg.chart")
    assert charts.count() == 5
    for i in range(5):
        assert charts.nth(i).bounding_box()["width"] > 200
    assert page.locator("svg.column-chart rect").count() > 10
    assert page.get_by_text("Estimated deflected contacts per year").is_visible()
    assert page.locator("table").filter(has_text="Summer summit").count() == 1
    screenshot(page, "value-dashboard")
    page.fill("input[name=contacts_per_solution]", "2")
    page.click("#assumptions button[type=submit]")
    assert page.get_by_text("Assumptions saved.").is_visible()
    assert page.locator("input[name=contacts_per_solution]").input_value() == "2"
