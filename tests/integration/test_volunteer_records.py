"""Volunteer records: figures from real rows, HR sign-off and drift, CSV, API, permissions."""
from __future__ import annotations

import csv
import io
import re
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from sqlalchemy import select

from engagement.accounts.services import create_token
from engagement.audit import AuditEntry
from engagement.community.models import Member
from engagement.events.models import InvitationStatus
from engagement.extensions import db
from engagement.records.models import EventRole, RecordSignoff
from engagement.records.volunteer import services
from engagement.rewards import services as reward_services
from engagement.rewards.models import Grant
from engagement.rewards.rules import Flag
from engagement.settings import set_setting
from tests.conftest import csrf_token
from tests.factories import add_days, make_event, make_invitation, make_member, make_user

NOW = datetime(2025, 6, 1, 10, 0, tzinfo=UTC)
TZ = "Europe/Berlin"
D = Decimal


def _reward(member, value):
    item = reward_services.create_item(db.session, name=f"Mug {value}", value=value,
                                       kind="gift", now=NOW)
    plan = reward_services.plan_grants(db.session, item_id=item.id, member_ids=[member.id],
                                       now=NOW, tz_name=TZ)
    reward_services.execute_plan(db.session, plan, reason="thanks", event_id=None,
                                 by_user_id=None, now=NOW, target="member")
    for grant in db.session.scalars(select(Grant).where(Grant.item_id == item.id)).all():
        reward_services.decide(db.session, grant, approve=True, by_user_id=None, now=NOW)


@pytest.fixture
def data(app):
    return _seed(app)


@pytest.fixture
def data_any(app_any):
    return _seed(app_any)


def _seed(app):
    with app.app_context():
        busy, quiet, other_year = make_member(display_name="=Busy"), make_member(), make_member()
        add_days(busy, {date(2025, 3, 1): {"answers": 20, "accepted_solutions": 4},
                        date(2025, 12, 31): {"answers": 10, "accepted_solutions": 2},
                        date(2024, 12, 31): {"answers": 99}})
        add_days(other_year, {date(2024, 5, 1): {"answers": 5}})
        ev = make_event("Meetup", starts_at=NOW, hours=2, timezone=TZ)
        make_invitation(ev, busy, InvitationStatus.ACCEPTED, checked_in_at=NOW)
        make_invitation(ev, quiet, InvitationStatus.ACCEPTED)
        services.add_role(db.session, event_id=ev.id, member_id=busy.id, role="speaker",
                          hours="3,5", note="talk")
        services.add_role(db.session, event_id=ev.id, member_id=quiet.id, role="helper",
                          hours="2", note="")
        _reward(busy, "60.00")
        v1 = services.create_agreement_version(db.session, key="volunteer", title="Terms",
                                               text="Be kind.", now=NOW)
        services.create_agreement_version(db.session, key="volunteer", title="Terms",
                                          text="Be kind, always.", now=NOW)
        services.record_acceptance(db.session, member_id=busy.id, agreement_id=v1.id,
                                   source="paper", now=NOW)
        db.session.commit()
        return {"busy": busy.id, "quiet": quiet.id, "other": other_year.id, "event": ev.id}


def test_figures_come_from_the_rows_of_that_year(app_any, data_any):
    data = data_any
    with app_any.app_context():
        records = services.year_records(db.session, 2025, TZ)
        assert set(records) == {data["busy"], data["quiet"]}
        busy = records[data["busy"]]
        f = busy.figures
        # 30 answers x 10 min + 6 accepted x 5 min = 330 min
        assert (f.answers, f.accepted, f.estimated_hours) == (30, 6, D("5.50"))
        assert (f.role_hours, f.total_hours, f.events_attended) == (D("3.50"), D("9.00"), 1)
        assert (f.rewards_value, busy.reward_flag) == (D("60.00"), Flag.OVER)
        assert busy.missing_agreement  # accepted v1, v2 is current
        quiet = records[data["quiet"]].figures
        assert (quiet.answers, quiet.role_hours, quiet.events_attended) == (0, D("2.00"), 0)
        assert set(services.year_records(db.session, 2024, TZ)) == {data["busy"], data["other"]}
        set_setting(db.session, "records.minutes_per_answer", 6)
        set_setting(db.session, "records.minutes_per_accepted", 0)
        again = services.year_records(db.session, 2025, TZ, [data["busy"]])[data["busy"]]
        assert again.figures.estimated_hours == D("3.00")


def test_hr_signs_off_and_a_later_change_is_flagged(app, client, login_as, data):
    user_id, _email = login_as("hr")
    path = f"/records/{data['busy']}/2025"
    page = client.get(path).get_data(as_text=True)
    assert "Not signed off" in page and "=Busy" in page
    r = client.post(path + "/sign-off", data={"csrf_token": csrf_token(client, path)})
    assert r.status_code == 302
    with app.app_context():
        signoff = db.session.scalar(select(RecordSignoff))
        assert (signoff.member_id, signoff.year, signoff.signed_by_user_id) == (
            data["busy"], 2025, user_id)
        assert signoff.snapshot["answers"] == 30 and signoff.snapshot["rewards_value"] == "60.00"
        entry = db.session.scalar(select(AuditEntry).where(
            AuditEntry.action == "records.sign_off"))
        assert entry.object_id == f"{data['busy']}/2025"
    page = client.get(path).get_data(as_text=True)
    assert "Signed off by" in page and "Changed after sign-off" not in page
    with app.app_context():
        add_days(db.session.get(Member, data["busy"]),
                 {date(2025, 7, 1): {"answers": 1}})
        db.session.commit()
    page = client.get(path).get_data(as_text=True)
    assert "Changed after sign-off" in page
    # Every changed figure with the value HR signed and today's (30 answers + 1 = 31;
    # 330 + 10 minutes = 5.67 h), not just its name.
    changes = page[page.index("Figures changed after the sign-off"):page.index("<h2>")]
    assert re.search(r"<td>Answers</td><td class=\"num\">30</td><td class=\"num\">31</td>",
                     changes), changes
    assert re.search(r"<td>Estimated hours from answers</td><td class=\"num\">5.50</td>"
                     r"<td class=\"num\">5.67</td>", changes), changes
    assert "Hours in event roles" not in changes  # unchanged figures are not listed
    listing = client.get("/records?year=2025&only=changed").get_data(as_text=True)
    assert "=Busy" in listing


def test_sign_off_without_csrf_is_refused(app, client, login_as, data):
    login_as("hr")
    client.post(f"/records/{data['busy']}/2025/sign-off", data={})
    with app.app_context():
        assert db.session.scalar(select(RecordSignoff)) is None


def test_list_dashboard_counts_and_sorting(app, client, login_as, data):
    login_as("hr")
    html = client.get("/records?year=2025").get_data(as_text=True)
    assert html.index("=Busy") < html.index(f"/records/{data['quiet']}/2025")
    assert "Gift limit crossed" in html and "Missing current agreement" in html
    with app.app_context():
        from engagement.records.volunteer.views import dashboard
        stats = dashboard(list(services.year_records(db.session, 2025, TZ).values()))
    assert stats == {"members": 2, "over": 1, "missing": 2, "unsigned": 2, "changed": 0}
    asc = client.get("/records?year=2025&sort=hours").get_data(as_text=True)
    assert asc.index(f"/records/{data['quiet']}/2025") < asc.index("=Busy")
    assert client.get("/records?year=abc&sort=junk&page=x").status_code == 200
    assert client.get(f"/records/{data['busy']}/99999").status_code == 404
    assert client.get("/records/999999/2025").status_code == 404


def test_csv_is_formula_safe(app, client, login_as, data):
    login_as("hr")
    r = client.get("/records.csv?year=2025")
    assert r.status_code == 200 and r.mimetype == "text/csv"
    rows = list(csv.reader(io.StringIO(r.get_data(as_text=True))))
    assert rows[0][:3] == ["member_id", "display_name", "year"]
    busy = next(row for row in rows[1:] if row[0] == str(data["busy"]))
    assert busy[1] == "'=Busy"  # a spreadsheet must not run it as a formula
    assert busy[3:8] == ["30", "6", "5.50", "3.50", "9.00"]
    assert busy[-1] == ""  # nothing signed, nothing changed


def test_api_lists_records_for_hr_and_manager(app, client, data):
    with app.app_context():
        _t, hr = create_token(db.session, make_user("hr"), "t")
        _t, member = create_token(db.session, make_user("member"), "t")
        db.session.commit()
    get = lambda path, token=hr: client.get(  # noqa: E731
        "/api/v1" + path, headers={"Authorization": f"Bearer {token}"})
    body = get("/records?year=2025").get_json()
    assert body["total"] == 2
    first = body["items"][0]
    assert (first["member_id"], first["total_hours"], first["reward_flag"]) == (
        data["busy"], "9.00", "over")
    assert get("/records?year=2025&per_page=1&page=2").get_json()["items"][0]["member_id"] == \
        data["quiet"]
    assert get("/records?year=x").status_code == 400
    assert get("/records?year=2025", member).status_code == 403
    csv_text = get("/records.csv?year=2025").get_data(as_text=True)
    assert "'=Busy" in csv_text


def test_manager_keeps_roles_and_agreements(app, client, login_as, data):
    login_as("manager")
    path = f"/records/events/{data['event']}/roles"
    token = csrf_token(client, path)
    r = client.post(path, data={"csrf_token": token, "member_id": data["quiet"],
                                "role": "organiser", "hours": "1.25", "note": "setup"})
    assert r.status_code == 302
    assert client.post(path, data={"csrf_token": token, "member_id": 999999, "role": "helper",
                                   "hours": "1"}).status_code == 400
    assert client.post(path, data={"csrf_token": token, "member_id": data["quiet"],
                                   "role": "helper", "hours": "-1"}).status_code == 400
    with app.app_context():
        roles = db.session.scalars(select(EventRole).where(
            EventRole.member_id == data["quiet"]).order_by(EventRole.id)).all()
        assert [(str(x.role), x.hours) for x in roles] == [
            ("helper", D("2.00")), ("organiser", D("1.25"))]
        added = roles[-1].id
    r = client.post(f"{path}/{added}/delete", data={"csrf_token": token})
    assert r.status_code == 302
    r = client.post("/records/agreements", data={
        "csrf_token": token, "new-key": "volunteer", "new-title": "Terms",
        "new-text": "Version three."})
    assert r.status_code == 302
    with app.app_context():
        from engagement.records.models import Agreement
        assert db.session.scalar(select(Agreement.version).where(
            Agreement.text == "Version three.")) == 3
        v3 = db.session.scalar(select(Agreement.id).where(Agreement.version == 3))
        assert db.session.scalar(select(EventRole).where(EventRole.id == added)) is None
    r = client.post("/records/agreements/accept", data={
        "csrf_token": token, "accept-member_id": data["quiet"], "accept-agreement_id": v3,
        "accept-source": "paper"})
    assert r.status_code == 302
    with app.app_context():
        rec = services.year_records(db.session, 2025, TZ)
        assert not rec[data["quiet"]].missing_agreement and rec[data["busy"]].missing_agreement
        actions = set(db.session.scalars(select(AuditEntry.action)))
    assert {"records.role_added", "records.role_removed", "records.agreement_created",
            "records.agreement_accepted"} <= actions


@pytest.mark.parametrize("method,path", [
    ("get", "/records/events/{event}/roles"), ("get", "/records/agreements"),
    ("post", "/records/agreements/accept"), ("get", "/events/{event}/edit"),
    ("get", "/rewards/items/new"), ("post", "/rewards/grants/new"),
])
def test_hr_cannot_edit_events_roles_or_rewards(client, login_as, data, method, path):
    login_as("hr")
    url = path.format(event=data["event"])
    # With a valid CSRF token, so the 403 comes from the role check, not the CSRF check.
    form = {"csrf_token": csrf_token(client, f"/records/{data['busy']}/2025")}
    response = client.post(url, data=form) if method == "post" else client.get(url)
    assert response.status_code == 403


def test_member_and_manager_cannot_sign_off(client, login_as, data):
    login_as("hr")
    token = csrf_token(client, f"/records/{data['busy']}/2025")
    for role in ("member", "manager"):
        login_as(role)
        assert client.get("/records?year=2025").status_code == 403
        assert client.post(f"/records/{data['busy']}/2025/sign-off",
                           data={"csrf_token": token}).status_code == 403
