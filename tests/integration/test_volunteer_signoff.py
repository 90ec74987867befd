"""Bulk sign-off of a filtered set of volunteer records and the hours-estimate settings
(issue 12, items 8 and 10): confirmation naming the count, audited, idempotent on a double
click; the minutes per answer are settings with their source, audited."""
from __future__ import annotations

import re
from datetime import UTC, date, datetime

import pytest
from sqlalchemy import func, select

from engagement.audit import AuditEntry
from engagement.community.models import Member
from engagement.extensions import db
from engagement.records.models import RecordSignoff
from engagement.records.volunteer import services
from engagement.settings import get_setting
from tests.conftest import csrf_token
from tests.factories import add_days, make_grant, make_member, make_reward_item

TZ = "Europe/Berlin"
NOW = datetime(2025, 6, 1, 10, tzinfo=UTC)


def _seed():
    over, a, b = (make_member(display_name=n) for n in ("Olga Over", "Anna", "Ben"))
    for member in (over, a, b):
        add_days(member, {date(2025, 3, 1): {"answers": 6}})
    make_grant(over, make_reward_item("Headset", "80.00"), year=2025)
    db.session.commit()
    return {"over": over.id, "a": a.id, "b": b.id}


@pytest.fixture
def members(app):
    with app.app_context():
        return _seed()


def _signoffs():
    return {s.member_id: s for s in db.session.scalars(select(RecordSignoff))}


def _bulk_entries():
    return db.session.scalars(select(AuditEntry).where(
        AuditEntry.action == "records.bulk_sign_off").order_by(AuditEntry.id)).all()


def _confirm(client, year=2025, only=""):
    page = client.get(f"/records/sign-off?year={year}&only={only}").get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page)
    expected = re.search(r'name="expected" value="(\d+)"', page)
    return page, {"csrf_token": token.group(1) if token else "", "year": str(year),
                  "only": only, "expected": expected.group(1) if expected else ""}


def test_bulk_sign_off_refuses_without_csrf_or_for_other_roles(app, client, login_as, members):
    login_as("hr")
    r = client.post("/records/sign-off", data={"year": "2025", "only": "", "expected": "3"})
    assert r.status_code == 400  # the CSRF check
    _page, form = _confirm(client)
    for role in ("manager", "member"):
        login_as(role)
        assert client.get("/records/sign-off?year=2025").status_code == 403
        assert client.post("/records/sign-off", data=form).status_code == 403
    with app.app_context():
        assert _signoffs() == {} and _bulk_entries() == []


def test_bulk_sign_off_refuses_a_count_that_no_longer_holds(app, client, login_as, members):
    login_as("hr")
    _page, form = _confirm(client)
    assert form["expected"] == "3"
    with app.app_context():  # a new member-year appears between confirmation and click
        add_days(make_member(display_name="Late"), {date(2025, 5, 5): {"answers": 1}})
        db.session.commit()
    r = client.post("/records/sign-off", data=form)
    assert r.status_code == 409
    assert "4 records wait for sign-off now" in r.get_data(as_text=True)
    with app.app_context():
        assert _signoffs() == {} and _bulk_entries() == []


def test_bulk_sign_off_of_a_filtered_set_is_confirmed_audited_and_idempotent(
        app, client, login_as, members):
    user_id, _email = login_as("hr")
    listing = client.get("/records?year=2025&only=over").get_data(as_text=True)
    assert "Sign off 1 waiting record…" in listing
    assert "Sign off 3 waiting records…" in client.get("/records?year=2025").get_data(
        as_text=True)
    page, form = _confirm(client, only="over")
    assert "Set: Gift limit crossed, 1 records." in page
    assert "1 record waits for sign-off." in page and form["expected"] == "1"
    r = client.post("/records/sign-off", data=form)
    assert r.status_code == 302 and "only=over" in r.location
    assert "1 record for 2025 was signed off." in client.get(r.location).get_data(as_text=True)
    with app.app_context():
        signed = _signoffs()
        assert set(signed) == {members["over"]}  # only the filtered set
        assert signed[members["over"]].signed_by_user_id == user_id
        assert signed[members["over"]].snapshot["rewards_value"] == "80.00"
        [entry] = _bulk_entries()
        assert (entry.after["count"], entry.after["filter"], entry.after["signed"]) == (
            1, "over", [members["over"]])
    # The double click: the same form once more signs nothing and writes no audit entry.
    r = client.post("/records/sign-off", data=form, follow_redirects=True)
    assert "Nothing to sign off" in r.get_data(as_text=True)
    with app.app_context():
        assert len(_signoffs()) == 1 and len(_bulk_entries()) == 1
    # The rest: only the two unsigned ones wait.
    page, form = _confirm(client, only="unsigned")
    assert "2 records wait for sign-off." in page
    client.post("/records/sign-off", data=form)
    with app.app_context():
        assert len(_signoffs()) == 3 and len(_bulk_entries()) == 2
    assert "waiting record" not in client.get("/records?year=2025").get_data(as_text=True)


def test_bulk_re_sign_records_old_and_new_values(app, client, login_as, members):
    login_as("hr")
    _page, form = _confirm(client)
    client.post("/records/sign-off", data=form)
    with app.app_context():
        first = _signoffs()[members["a"]].signed_at
        add_days(db.session.get(Member, members["a"]), {date(2025, 4, 1): {"answers": 6}})
        db.session.commit()
    page, form = _confirm(client, only="changed")
    assert "1 record waits for sign-off." in page
    client.post("/records/sign-off", data=form)
    with app.app_context():
        signed = _signoffs()
        assert signed[members["a"]].snapshot["answers"] == 12
        assert signed[members["a"]].signed_at > first
        entry = _bulk_entries()[-1]
        assert entry.after["resigned"] == {str(members["a"]): {
            "answers": [6, 12], "estimated_hours": ["1.00", "2.00"]}}
        assert entry.after["signed"] == []


def test_a_stale_bulk_plan_signs_nothing_twice(app_any):
    """Two requests that both computed the set before either wrote (a double click on a
    slow server): the second one's writes are no-ops, on both databases."""
    with app_any.app_context():
        ids = _seed()
        first = list(services.year_records(db.session, 2025, TZ).values())
        second = list(services.year_records(db.session, 2025, TZ).values())
        done = services.bulk_sign_off(db.session, first, year=2025, filter_name="all",
                                      by_user_id=None, now=NOW)
        assert (done.signed, done.resigned) == (3, 0)
        again = services.bulk_sign_off(db.session, second, year=2025, filter_name="all",
                                       by_user_id=None, now=NOW)
        assert again.total == 0
        db.session.commit()
        assert db.session.scalar(select(func.count()).select_from(RecordSignoff)) == 3
        assert len(_bulk_entries()) == 1
        # A stale re-sign plan (both saw the same old sign-off) also applies only once.
        add_days(db.session.get(Member, ids["b"]), {date(2025, 4, 1): {"answers": 6}})
        plans = [list(services.year_records(db.session, 2025, TZ, [ids["b"]]).values())
                 for _ in range(2)]
        later = datetime(2025, 7, 1, tzinfo=UTC)
        assert services.bulk_sign_off(db.session, plans[0], year=2025, filter_name="changed",
                                      by_user_id=None, now=later).resigned == 1
        assert services.bulk_sign_off(db.session, plans[1], year=2025, filter_name="changed",
                                      by_user_id=None, now=later).total == 0
        assert len(_bulk_entries()) == 2


# --- the hours estimate's settings ------------------------------------------------------

def test_minutes_settings_refuse_bad_values_and_members(app, client, login_as, members):
    login_as("member")
    assert client.get("/records/settings").status_code == 403
    login_as("hr")
    token = csrf_token(client, "/records/settings")
    for bad in ("-1", "601", "abc", ""):
        r = client.post("/records/settings", data={"csrf_token": token, "per_answer": bad,
                                                   "per_accepted": "5"})
        assert r.status_code == 400, bad
    assert client.post("/records/settings", data={"per_answer": "3",
                                                  "per_accepted": "5"}).status_code == 400
    with app.app_context():
        assert get_setting(db.session, "records.minutes_per_answer") is None
        assert db.session.scalar(select(AuditEntry).where(
            AuditEntry.action == "records.settings")) is None


def test_minutes_settings_show_their_source_and_are_audited(app, client, login_as, members):
    uid, email = login_as("hr")
    page = client.get("/records/settings").get_data(as_text=True)
    assert "built-in default (10 and 5 minutes)" in page
    assert "(built-in default)" in client.get("/records?year=2025").get_data(as_text=True)
    token = csrf_token(client, "/records/settings")
    r = client.post("/records/settings", data={
        "csrf_token": token, "per_answer": "20", "per_accepted": "0",
        "basis": "Time study 2025"})
    assert r.status_code == 302
    page = client.get("/records/settings").get_data(as_text=True)
    assert re.search(rf"set by Hr \d+ \({re.escape(email)}\) on", page), page
    assert "Time study 2025" in page
    record = client.get(f"/records/{members['a']}/2025").get_data(as_text=True)
    assert "20 minutes per answer" in record and "Source: set by Hr " in record
    assert f"({email})" in record
    assert "Basis: Time study 2025." in record
    assert re.search(r"Estimated hours from answers</th><td class=\"num\">2</td>", record)
    with app.app_context():
        entry = db.session.scalar(select(AuditEntry).where(
            AuditEntry.action == "records.settings"))
        assert entry.actor_user_id == uid and email in entry.actor
        assert entry.before == {"per_answer": 10, "per_accepted": 5, "basis": "",
                                "default": True}
        assert entry.after == {"per_answer": 20, "per_accepted": 0,
                               "basis": "Time study 2025"}
    # Managers may keep the estimate too.
    login_as("manager")
    token = csrf_token(client, "/records/settings")
    assert client.post("/records/settings", data={
        "csrf_token": token, "per_answer": "12", "per_accepted": "6"}).status_code == 302
    with app.app_context():
        assert services.minutes_settings(db.session) == (12, 6)
