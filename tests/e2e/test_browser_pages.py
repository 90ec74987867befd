"""Browser journeys over the member pages in Chromium, on a desktop and a phone, en and de."""
from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import select

from engagement.community.models import MemberWindowStats, Tier, TierHistory
from engagement.extensions import db
from engagement.timeutil import local_today_and_month_start, utcnow
from tests.factories import add_days, make_member, make_tier, make_user

pytestmark = pytest.mark.browser

FIRST = ["Anna", "Jonas", "Lena", "Paul", "Mia", "Finn", "Sophie", "Lukas", "Hannah", "Ben"]
LAST = ["Adler", "Schmidt", "Becker", "Wagner", "Hoffmann", "Richter", "Krüger", "Wolf"]
REGIONS = ["Berlin", "Bayern", "Hamburg", "NRW", "Sachsen"]


def seed_community(app) -> dict:
    """A small, realistic community: tiers, 60 members, two years of activity, movements."""
    rnd = random.Random(7)
    today = date.today()
    with app.app_context():
        tiers = list(db.session.scalars(select(Tier).order_by(Tier.rank)))
        if not tiers:
            tiers = [make_tier("Rising", 1, "answers >= 5", color="#0ea5e9"),
                     make_tier("Expert", 2, "answers >= 100", color="#7c3aed"),
                     make_tier("Legend", 3, "answers >= 1000", color="#e20074")]
        members = []
        for i in range(60):
            answers = int(rnd.paretovariate(0.9) * 3) if i else 12480
            accepted = answers // rnd.randint(3, 6)
            kudos = answers * rnd.randint(1, 3)
            score = 2 * answers + 15 * accepted + 4 * kudos
            level = min(len(tiers) - 1, int(score ** 0.5 / 40)) if score > 200 else None
            m = make_member(
                display_name=f"{FIRST[i % 10]} {LAST[(i * 7) % 8]}{'' if i < 10 else f' {i}'}",
                email=f"{FIRST[i % 10].lower()}.{i}@example.org", region=REGIONS[i % 5],
                source="khoros" if i % 4 else "stackexchange", external_id=f"U{1000 + i}",
                answers=answers, accepted_solutions=accepted, kudos_received=kudos,
                posts=answers + rnd.randint(0, 50), score=score,
                tier_id=tiers[level].id if level is not None else None,
                tier_since=datetime(2026, 2, 1, tzinfo=UTC) if level is not None else None,
                last_active=utcnow() - timedelta(days=rnd.randint(0, 90)),
                joined_at=datetime(2019, 5, 4, tzinfo=UTC))
            members.append(m)
            days = {}
            for _ in range(min(120, answers // 4 + 2)):
                d = today - timedelta(days=rnd.randint(0, 720))
                days[d] = {"answers": rnd.randint(1, 8), "accepted_solutions": rnd.randint(0, 2),
                           "posts": rnd.randint(1, 9), "kudos_received": rnd.randint(0, 6)}
            add_days(m, days)
            for window in (30, 90, 365):
                start = today - timedelta(days=window - 1)
                inside = [v for d, v in days.items() if start <= d <= today]
                if inside:
                    sums = {k: sum(v[k] for v in inside) for k in
                            ("posts", "answers", "accepted_solutions", "kudos_received")}
                    db.session.add(MemberWindowStats(
                        member_id=m.id, window_days=window, as_of=today,
                        score=2 * sums["answers"] + 15 * sums["accepted_solutions"]
                        + 4 * sums["kudos_received"], **sums))
        star = members[0]
        # Movements "this month" (in the programme's time zone) even just after midnight
        # on the 1st, when three hours ago was last month.
        now = utcnow()
        _, month_start = local_today_and_month_start("Europe/Berlin")
        recent = max(now - timedelta(hours=3), month_start + (now - month_start) / 3)
        db.session.add_all([
            TierHistory(member_id=star.id, from_tier_id=tiers[-2].id, to_tier_id=tiers[-1].id,
                        at=recent, kind="promotion",
                        reason="≥ 10,000 answers lifetime", actor="cli:compute-tiers"),
            TierHistory(member_id=star.id, from_tier_id=None, to_tier_id=tiers[-2].id,
                        at=datetime(2025, 6, 1, tzinfo=UTC), kind="promotion",
                        reason="≥ 1,500 answers in 365 days", actor="cli:compute-tiers"),
            TierHistory(member_id=members[5].id, from_tier_id=tiers[0].id, to_tier_id=None,
                        at=max(now - timedelta(hours=1), recent), kind="demotion",
                        reason="grace period over", actor="cli:compute-tiers"),
        ])
        manager = make_user(role="manager", email="manager@example.org", name="Maria Manager")
        db.session.commit()
        return {"star": star.id, "star_name": star.display_name, "manager": manager.email}


@pytest.fixture
def community(live_server):
    return seed_community(live_server.app)


def _no_horizontal_overflow(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")


def test_manager_journey_desktop(page, live_server, login, community, screenshot):
    login(page, community["manager"])
    page.goto(f"{live_server.url}/dashboard")
    assert page.locator("h1").inner_text() == "Dashboard"
    assert page.locator(".kpi .value").first.inner_text() == "60"
    assert page.locator("svg.bar-chart rect").count() >= 2
    assert page.locator("svg.column-chart rect[height]").count() >= 12
    assert "▲ 1 promotion ·" in page.locator(".movements").inner_text()
    screenshot(page, "dashboard")

    page.click("nav.mainnav >> text=Members")
    page.fill("input[name=q]", "anna")
    page.click("text=Filter")
    rows = page.locator("table.members tbody tr")
    assert rows.count() >= 1
    found = rows.locator("td:first-child").all_inner_texts()
    assert all("anna" in n.lower() for n in found)  # part of the name, any case
    page.fill("input[name=q]", "")
    page.select_option("select[name=region]", "Berlin")
    page.click("text=Filter")
    regions = page.locator("table.members tbody td:nth-child(4)").all_inner_texts()
    assert regions and set(regions) == {"Berlin"}
    page.click("table.members th >> text=Answers")  # sort by answers, descending
    values = [int(v.replace(",", "")) for v in
              page.locator("table.members tbody td:nth-child(5)").all_inner_texts()]
    assert values == sorted(values, reverse=True)
    page.goto(f"{live_server.url}/members")
    screenshot(page, "members-list")

    page.click(f"table.members >> text={community['star_name']}")
    assert page.locator("h1").inner_text().startswith(community["star_name"])
    assert "12,480" in page.locator("table.metrics").inner_text()
    assert page.locator(".timeline li").count() == 2
    assert page.locator("svg.column-chart").is_visible()
    page.click("text=Show the numbers")
    assert page.locator(".chart-data table tbody tr").count() == 24
    screenshot(page, "member-profile")

    page.click("nav.mainnav >> text=Leaderboards")
    page.click("nav.lb-tabs >> text=Score")
    page.click("nav.lb-tabs.secondary >> text=90 days")
    assert "window=90" in page.url and "metric=score" in page.url
    assert page.locator("nav.lb-tabs.secondary a[aria-current=page]").inner_text() == "90 days"
    ranks = page.locator("table.leaderboard tbody td:first-child").all_inner_texts()
    assert ranks[0] == "1" and len(ranks) >= 10
    screenshot(page, "leaderboards")


@pytest.mark.parametrize("path, name", [
    ("/dashboard", "dashboard-phone"), ("/members", "members-list-phone"),
    ("/members/{star}", "member-profile-phone"), ("/leaderboards?metric=score&window=30",
                                                  "leaderboards-phone"),
])
def test_pages_fit_a_phone(browser, live_server, community, screenshot, path, name):
    context = browser.new_context(viewport={"width": 375, "height": 812}, locale="en-GB",
                                  is_mobile=True, has_touch=True)
    page = context.new_page()
    try:
        from tests.factories import PASSWORD

        page.goto(f"{live_server.url}/login")
        page.fill("input[name=email]", community["manager"])
        page.fill("input[name=password]", PASSWORD)
        page.click("form.card button[type=submit]")
        page.goto(live_server.url + path.format(star=community["star"]))
        assert page.locator("h1").is_visible()
        assert _no_horizontal_overflow(page), f"{path} scrolls sideways at 375 px"
        screenshot(page, name)
    finally:
        context.close()


def test_german_rendering_after_switching_language(page, live_server, login, community,
                                                   screenshot):
    login(page, community["manager"])
    page.goto(f"{live_server.url}/dashboard")
    page.click("button:has-text('Deutsch')")
    assert page.locator("h1").inner_text() == "Übersicht"
    body = page.locator("main").inner_text()
    assert "Mitglieder mit Stufe" in body and "Bewegungen in diesem Monat" in body
    assert page.locator("html").get_attribute("lang") == "de"
    screenshot(page, "dashboard-de")
    page.goto(f"{live_server.url}/members/{community['star']}")
    assert "Stufenverlauf" in page.locator("main").inner_text()
    assert "12.480" in page.locator("table.metrics").inner_text()  # German number format
    screenshot(page, "member-profile-de")
