"""Granting to one member: the search picker, the over-limit warning, the list's flag."""
from __future__ import annotations

import re
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from engagement.extensions import db
from engagement.rewards import init_app, services
from engagement.rewards.models import Grant
from engagement.timeutil import utcnow
from tests.conftest import csrf_token
from tests.factories import make_grant, make_member, make_reward_item


@pytest.fixture
def rw(app):
    if "rewards" not in app.blueprints:
        init_app(app)
    return app


def _year() -> int:
    return datetime.now(ZoneInfo("Europe/Berlin")).year


def _seed(rw, *, over: bool):
    """Two "… Schmidt" members and one other; Jana is over this year's limit if `over`."""
    with rw.app_context():
        mug = make_reward_item("Tasse", "12.00")
        big = make_reward_item("Headset", "60.00")
        jana = make_member(display_name="Jana Schmidt", email="jana@example.org")
        make_member(display_name="Uwe Schmidt-Berg", email="uwe@example.org")
        make_member(display_name="Karl Meier", email="karl@example.org")
        if over:
            make_grant(jana, big, year=_year())
        db.session.commit()
        return mug.id, jana.id


def _form(client, **fields):
    return {"csrf_token": csrf_token(client, "/rewards/grants/new"), "target": "member",
            **fields}


def test_preview_without_a_chosen_member_asks_to_search(rw, client, login_as):
    mug_id, _jana = _seed(rw, over=False)
    login_as("manager")
    r = client.post("/rewards/grants/new", data=_form(client, item_id=mug_id))
    html = r.get_data(as_text=True)
    assert r.status_code == 200 and "Search for the member and choose one." in html
    assert "Preview</h2>" not in html
    with rw.app_context():
        assert db.session.scalar(select(db.func.count(Grant.id))) == 0


def test_search_finds_by_part_of_the_name_and_lists_only_matches(rw, client, login_as):
    mug_id, jana_id = _seed(rw, over=False)
    login_as("manager")
    r = client.post("/rewards/grants/new", data=_form(client, item_id=mug_id,
                                                      member_q="schmidt", search="1"))
    html = r.get_data(as_text=True)
    assert r.status_code == 200
    assert "Jana Schmidt" in html and "Uwe Schmidt-Berg" in html and "Karl Meier" not in html
    assert f'name="member_id" value="{jana_id}"' in html
    assert "Preview</h2>" not in html  # searching never previews or grants
    r = client.post("/rewards/grants/new", data=_form(client, item_id=mug_id,
                                                      member_q="nobody-like-this",
                                                      search="1"))
    assert "No member matches." in r.get_data(as_text=True)


def test_search_works_as_a_plain_get_link(rw, client, login_as):
    _seed(rw, over=False)
    login_as("manager")
    html = client.get("/rewards/grants/new?member_q=jana%40example&search=1").get_data(
        as_text=True)
    assert "Jana Schmidt" in html and "Uwe Schmidt-Berg" not in html


def test_the_chosen_member_is_named_before_proposing_and_granted(rw, client, login_as):
    mug_id, jana_id = _seed(rw, over=False)
    login_as("manager")
    form = _form(client, item_id=mug_id, member_q="schmidt", member_id=jana_id)
    r = client.post("/rewards/grants/new", data=form)
    html = r.get_data(as_text=True)
    assert re.search(r"Recipient:\s*<strong>Jana Schmidt</strong>", html)
    assert "1 recipients, total value 12.00 EUR" in html
    assert "Uwe Schmidt-Berg" not in html  # chosen: the list is gone
    assert "already over the gift limit" not in html
    r = client.post("/rewards/grants/new", data={**form, "confirm": "1"})
    assert r.status_code == 302
    with rw.app_context():
        grant = db.session.scalars(select(Grant)).one()
        assert (grant.member_id, grant.status) == (jana_id, "proposed")


def test_an_unknown_member_id_is_refused(rw, client, login_as):
    mug_id, _jana = _seed(rw, over=False)
    login_as("manager")
    r = client.post("/rewards/grants/new", data=_form(client, item_id=mug_id,
                                                      member_id=999999))
    html = r.get_data(as_text=True)
    assert "No such member" in html and "Preview</h2>" not in html


def test_warns_when_the_member_is_already_over_the_limit(rw, client, login_as):
    mug_id, jana_id = _seed(rw, over=True)
    login_as("manager")
    # In the picker already, next to her name.
    html = client.post("/rewards/grants/new", data=_form(
        client, item_id=mug_id, member_q="schmidt", search="1")).get_data(as_text=True)
    items = re.findall(r"<li>(.*?)</li>", html, re.S)
    jana_row = next(i for i in items if "Jana Schmidt" in i)
    uwe_row = next(i for i in items if "Uwe Schmidt-Berg" in i)
    assert f"over the limit for {_year()}" in jana_row
    assert "over the limit" not in uwe_row
    # Chosen and previewed: a warning although the grant does not *cross* the limit.
    form = _form(client, item_id=mug_id, member_id=jana_id)
    html = client.post("/rewards/grants/new", data=form).get_data(as_text=True)
    assert "Jana Schmidt is already over the gift limit" in html
    assert "These recipients are already over the gift limit" in html
    assert "60.00 → 72.00" in html
    html = client.post("/rewards/grants/new", data={**form, "confirm": "1"},
                       follow_redirects=True).get_data(as_text=True)
    assert "1 recipient was over the gift limit for" in html


def test_preview_counts_over_and_crossing_recipients_apart(rw):
    with rw.app_context():
        item = make_reward_item("Hoodie", "30.00")
        big = make_reward_item("Headset", "60.00")
        over, crossing, fresh = make_member(), make_member(), make_member()
        make_grant(over, big, year=_year())
        make_grant(crossing, item, year=_year())
        plan = services.plan_grants(db.session, item_id=item.id,
                                    member_ids=[over.id, crossing.id, fresh.id],
                                    now=utcnow(),
                                    tz_name="Europe/Berlin")
        assert [c.member_id for c in plan.preview.over] == [over.id]
        assert [c.member_id for c in plan.preview.crossing] == [crossing.id]
        assert (plan.preview.over_count, plan.preview.crossing_count) == (1, 1)


def test_grants_list_flags_members_over_the_limit(rw, client, login_as):
    with rw.app_context():
        mug = make_reward_item("Tasse", "12.00")
        big = make_reward_item("Headset", "60.00")
        over = make_member(display_name="Over Olga")
        fine = make_member(display_name="Fine Fritz")
        make_grant(over, big, year=_year())
        make_grant(over, mug, year=_year())
        make_grant(fine, mug, year=_year())
        # A proposal alone does not make the ledger's flag.
        make_grant(fine, big, year=_year(), status="proposed")
        db.session.commit()
    login_as("manager")
    html = client.get("/rewards/grants").get_data(as_text=True)
    rows = re.findall(r"<tr[^>]*>.*?</tr>", html, re.S)
    olga = [r for r in rows if "Over Olga" in r]
    fritz = [r for r in rows if "Fine Fritz" in r]
    assert len(olga) == 2 and all("over the limit" in r for r in olga)
    assert "exceed the gift limit." in olga[0] and f"ledger?year={_year()}" in olga[0]
    assert len(fritz) == 2 and not any("over the limit" in r for r in fritz)


@pytest.fixture
def rw_any(app_any):
    if "rewards" not in app_any.blueprints:
        init_app(app_any)
    with app_any.app_context():
        yield app_any


def test_picker_and_limit_queries_on_each_backend(rw_any):
    """The picker's search, its over-limit marks and the list's flag on SQLite and PostgreSQL."""
    big = make_reward_item("Headset", "60.00")
    mug = make_reward_item("Tasse", "12.00")
    jana = make_member(display_name="Jana Schmidt", email="jana@example.org")
    uwe = make_member(display_name="Uwe SCHMIDT", email="uwe@example.org")
    make_member(display_name="Karl Meier", email="karl@example.org")
    make_grant(jana, big, year=_year())
    make_grant(uwe, big, year=_year(), status="proposed")
    make_grant(uwe, mug, year=_year() - 1)
    db.session.flush()
    shown, more, over = services.pick_members(db.session, "schmidt", year=_year(),
                                              tz_name="Europe/Berlin", limit=1)
    assert [m.display_name for m in shown] == ["Jana Schmidt"] and more
    shown, more, over = services.pick_members(db.session, "schmidt", year=_year(),
                                              tz_name="Europe/Berlin")
    assert [m.display_name for m in shown] == ["Jana Schmidt", "Uwe SCHMIDT"] and not more
    assert over == {jana.id, uwe.id}  # Uwe's proposal counts for the warning
    assert services.over_limit(db.session, _year(), "Europe/Berlin",
                               [jana.id, uwe.id]) == {jana.id}  # the ledger: approved only
    assert services.over_limit_by_year(
        db.session, {(jana.id, _year()), (uwe.id, _year() - 1)}, "Europe/Berlin"
    ) == {(jana.id, _year())}
    assert services.pick_members(db.session, "  ", year=_year(),
                                 tz_name="Europe/Berlin") == ([], False, set())
