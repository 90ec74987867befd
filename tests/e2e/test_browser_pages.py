"""Browser journeys over the member pages in Chromium, on a desktop and a phone, en and de."""
from __future__ import annotations

import pytest

from tests.helpers import seed_community

pytestmark = pytest.mark.browser


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
