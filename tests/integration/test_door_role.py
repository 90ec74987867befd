"""The `door` role (issue 15, item 8): door staff check people in at the events assigned to
them and see nothing else; plus-ones at the door; walk-in guests who are not members."""
from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from engagement.accounts.models import User
from engagement.audit import AuditEntry
from engagement.events.checkin import services as checkin
from engagement.events.models import DoorAssignment, Invitation, WalkInGuest
from engagement.extensions import db
from engagement.security import Role
from tests.checkin_helpers import accepted, future_event, scan_path
from tests.conftest import csrf_token
from tests.factories import make_user

DOORS_OPEN = datetime(2030, 11, 5, 17, 5, tzinfo=UTC)


@pytest.fixture(autouse=True)
def at_the_door(monkeypatch):
    from engagement.events.checkin import views as checkin_views

    monkeypatch.setattr(checkin_views, "utcnow", lambda: DOORS_OPEN)


def _two_events_one_assigned(app, door_user_id):
    with app.app_context():
        mine, other = future_event(title="Mine"), future_event(title="Other")
        (inv_mine,) = accepted(mine)
        (inv_other,) = accepted(other)
        checkin.assign_door_staff(db.session, mine, door_user_id, now=DOORS_OPEN)
        db.session.commit()
        return (mine.id, other.id, inv_mine.id, inv_other.id,
                scan_path(inv_mine), scan_path(inv_other))


def test_door_staff_are_refused_an_unassigned_event(app, client, login_as):
    door_id, _ = login_as("door")
    mine, other, inv_mine, inv_other, path_mine, path_other = _two_events_one_assigned(
        app, door_id)
    assert client.get(f"/events/{other}/door").status_code == 403
    assert client.get(path_other).status_code == 403
    token = csrf_token(client, f"/events/{mine}/door")
    for url in (f"/events/{other}/door/{inv_other}/check-in", path_other,
                f"/events/{other}/door/guest", f"/events/{other}/door/walk-in"):
        assert client.post(url, data={"csrf_token": token, "name": "X"}).status_code == 403, url
    # The ticket of the other event typed into my door list is refused, not checked in.
    client.post(f"/events/{mine}/door/scan", data={"csrf_token": token, "ticket": path_other})
    with app.app_context():
        assert db.session.get(Invitation, inv_other).checked_in_at is None
        assert db.session.scalar(select(WalkInGuest.id)) is None
    # The rest of the product is closed to door staff.
    with app.test_request_context():
        from flask import url_for
        urls = [url_for("events.index"), url_for("events.detail", event_id=mine),
                url_for("members.index"), url_for("members.dashboard"),
                url_for("events.no_shows", event_id=mine), url_for("accounts.tokens")]
    for url in urls:
        assert client.get(url).status_code == 403, url
    # Their own event works.
    page = client.get(f"/events/{mine}/door").get_data(as_text=True)
    assert "Guest 0 Example" in page
    client.post(f"/events/{mine}/door/{inv_mine}/check-in", data={"csrf_token": token})
    with app.app_context():
        assert db.session.get(Invitation, inv_mine).checked_in_at == DOORS_OPEN
    assert client.get(path_mine).status_code == 200


def test_door_staff_land_on_their_doors_and_lose_them_when_unassigned(app, client, login_as):
    door_id, _ = login_as("door")
    mine, other, *_ = _two_events_one_assigned(app, door_id)
    r = client.get("/")
    assert r.headers["Location"].endswith("/door")
    page = client.get("/door").get_data(as_text=True)
    assert "Mine" in page and "Other" not in page
    with app.app_context():
        from engagement.events.models import Event
        checkin.unassign_door_staff(db.session, db.session.get(Event, mine), door_id,
                                    now=DOORS_OPEN)
        db.session.commit()
    assert client.get(f"/events/{mine}/door").status_code == 403
    assert "Mine" not in client.get("/door").get_data(as_text=True)


def test_managers_assign_door_staff_on_the_event_page_audited(app, client, login_as):
    with app.app_context():
        event = future_event()
        door = make_user(role="door", name="Dora Door")
        member_login = make_user(role="member")
        db.session.commit()
        event_id, door_id, member_login_id = event.id, door.id, member_login.id
    login_as("manager")
    page = client.get(f"/events/{event_id}").get_data(as_text=True)
    assert "Door staff" in page and "Dora Door" in page
    token = csrf_token(client, f"/events/{event_id}")
    # Only door logins can be assigned.
    client.post(f"/events/{event_id}/door-staff",
                data={"csrf_token": token, "user_id": member_login_id})
    client.post(f"/events/{event_id}/door-staff", data={"user_id": door_id})  # no CSRF
    with app.app_context():
        assert db.session.scalar(select(DoorAssignment.id)) is None
    client.post(f"/events/{event_id}/door-staff", data={"csrf_token": token, "user_id": door_id})
    with app.app_context():
        assert checkin.is_assigned(db.session, door_id, event_id)
        actions = db.session.scalars(select(AuditEntry.action).where(
            AuditEntry.object_type == "event", AuditEntry.object_id == str(event_id))).all()
        assert "event.door_staff_assigned" in actions
    client.post(f"/events/{event_id}/door-staff/{door_id}/remove", data={"csrf_token": token})
    with app.app_context():
        assert not checkin.is_assigned(db.session, door_id, event_id)
        actions = db.session.scalars(select(AuditEntry.action).where(
            AuditEntry.object_type == "event", AuditEntry.object_id == str(event_id))).all()
        assert "event.door_staff_removed" in actions


def test_plus_one_is_counted_when_it_comes_and_not_when_it_does_not(app, client, login_as):
    door_id, _ = login_as("door")
    with app.app_context():
        event = future_event(capacity=5)
        a, b, c = accepted(event, 3)
        a.plus_one = b.plus_one = True
        checkin.assign_door_staff(db.session, event, door_id, now=DOORS_OPEN)
        db.session.commit()
        event_id, ids, path_b = event.id, (a.id, b.id, c.id), scan_path(b)
    token = csrf_token(client, f"/events/{event_id}/door")
    page = client.get(f"/events/{event_id}/door").get_data(as_text=True)
    assert "Check in with plus-one" in page and "Alone" in page
    client.post(f"/events/{event_id}/door/{ids[0]}/check-in",
                data={"csrf_token": token, "plus_one": "1"})
    client.post(path_b, data={"csrf_token": token, "plus_one": "0"})
    client.post(f"/events/{event_id}/door/{ids[2]}/check-in", data={"csrf_token": token})
    with app.app_context():
        rows = {i.id: i for i in db.session.scalars(select(Invitation).where(
            Invitation.event_id == event_id))}
        assert [rows[i].plus_one_checked_in for i in ids] == [True, False, False]
        assert all(rows[i].checked_in_at for i in ids)
        assert checkin.plus_one_count(db.session, event_id) == 1
    page = client.get(f"/events/{event_id}/door").get_data(as_text=True)
    assert 'class="door-plus-ones">1<' in page
    client.post(f"/events/{event_id}/door/{ids[0]}/undo", data={"csrf_token": token})
    with app.app_context():
        assert checkin.plus_one_count(db.session, event_id) == 0


def test_walk_in_guest_needs_a_name_keeps_little_and_can_be_erased(app, client, login_as):
    door_id, _ = login_as("door")
    with app.app_context():
        event = future_event()
        checkin.assign_door_staff(db.session, event, door_id, now=DOORS_OPEN)
        db.session.commit()
        event_id = event.id
    token = csrf_token(client, f"/events/{event_id}/door")
    r = client.post(f"/events/{event_id}/door/guest",
                    data={"csrf_token": token, "name": "  ", "email": "x@example.org"},
                    follow_redirects=True)
    assert "Enter the guest" in r.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(select(WalkInGuest.id)) is None
    r = client.post(f"/events/{event_id}/door/guest",
                    data={"csrf_token": token, "name": "Gisela Gast",
                          "email": "Gisela@Example.org"}, follow_redirects=True)
    page = r.get_data(as_text=True)
    assert "Walk-in guest recorded" in page and "Gisela Gast" in page
    assert 'class="door-guests">1<' in page
    with app.app_context():
        guest = db.session.scalar(select(WalkInGuest))
        assert (guest.name, guest.email, guest.checked_in_at) == (
            "Gisela Gast", "gisela@example.org", DOORS_OPEN)
        entry = db.session.scalar(select(AuditEntry).where(
            AuditEntry.action == "event.walk_in_guest"))
        assert "Gisela" not in str(entry.after) and "gisela" not in str(entry.after)
        # Not a member: no member row and no invitation was made.
        assert db.session.scalar(select(Invitation.id)) is None
        assert checkin.erase_walk_in_guests(db.session, "GISELA@example.org") == 1
        assert db.session.scalar(select(WalkInGuest.id)) is None


def test_guest_outside_the_check_in_window_is_refused(app, client, login_as, monkeypatch):
    from engagement.events.checkin import views as checkin_views

    monkeypatch.setattr(checkin_views, "utcnow", lambda: datetime(2030, 1, 1, tzinfo=UTC))
    login_as("manager")
    with app.app_context():
        event = future_event()
        db.session.commit()
        event_id = event.id
    token = csrf_token(client, f"/events/{event_id}/door")
    r = client.post(f"/events/{event_id}/door/guest",
                    data={"csrf_token": token, "name": "Early Bird"}, follow_redirects=True)
    assert "Check-in opens at" in r.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(select(WalkInGuest.id)) is None


def test_create_user_cli_and_user_admin_know_the_door_role(app, runner, client, login_as):
    r = runner.invoke(args=["create-user", "door@example.org", "--role", "door",
                            "--name", "Door"])
    assert r.exit_code == 0, r.output
    with app.app_context():
        assert db.session.scalar(select(User.role).where(User.email == "door@example.org")) \
            == Role.DOOR
    login_as("admin")
    with app.test_request_context():
        from flask import url_for
        users = url_for("accounts.users")
    assert '<option value="door"' in client.get(users).get_data(as_text=True)
