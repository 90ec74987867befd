"""The events API (SPEC §4a) on SQLite and PostgreSQL: create, patch, publish, invite, ics."""
from __future__ import annotations

import icalendar
import pytest

from tests.helpers import EVENT_BODY as BODY


def test_event_lifecycle_over_the_api(api):
    r = api("POST", "/events", json=BODY)
    assert r.status_code == 201, r.get_json()
    event = r.get_json()
    assert event["status"] == "draft" and event["sequence"] == 0 and "@" in event["uid"]
    assert event["starts_at"] == "2030-11-05T18:00:00+01:00"
    assert event["per_attendee_cost"] == "45.50"
    assert event["questions"][0]["choices"] == ["none", "vegan"]
    eid = event["id"]

    r = api("POST", f"/events/{eid}/invitations", json={"member_ids": api.ids})
    assert r.status_code == 409 and "Publish" in r.get_json()["error"]["message"]
    assert api("POST", f"/events/{eid}/publish").get_json()["status"] == "published"
    assert api("POST", f"/events/{eid}/publish").status_code == 409

    r = api("POST", f"/events/{eid}/invitations", json={"member_ids": api.ids + [999999]})
    assert r.status_code == 201
    body = r.get_json()
    assert body["created"] == 3
    assert sorted(s["reason"] for s in body["skipped"]) == ["no_email", "not_found"]

    r = api("PATCH", f"/events/{eid}", json={"starts_at": "2030-11-05T19:00"})
    assert r.status_code == 200
    patched = r.get_json()
    assert patched["sequence"] == 1 and patched["notified"] == 3
    assert patched["changed"] == ["starts_at"] and patched["uid"] == event["uid"]

    r = api("GET", f"/events/{eid}/ics", api.hr_token)
    assert r.status_code == 200 and r.mimetype == "text/calendar"
    vevent = icalendar.Calendar.from_ical(r.data).walk("VEVENT")[0]
    assert vevent["SEQUENCE"] == 1 and vevent.decoded("DTSTART").hour == 19

    r = api("GET", f"/events/{eid}/invitations?per_page=2", api.hr_token)
    page = r.get_json()
    assert page["total"] == 3 and len(page["items"]) == 2
    assert set(page["items"][0]) >= {"id", "member_id", "status", "waitlist_position",
                                     "responded_at", "checked_in_at"}
    assert api("POST", f"/events/{eid}/cancel", api.hr_token).status_code == 403

    r = api("POST", f"/events/{eid}/cancel")
    assert r.get_json()["status"] == "cancelled" and r.get_json()["notified"] == 3
    assert r.get_json()["sequence"] == 2
    assert api("PATCH", f"/events/{eid}", json={"title": "x"}).status_code == 409


@pytest.mark.parametrize("body, needle", [
    ({**BODY, "starts_at": "2030-03-31T02:30"}, "does not exist"),
    ({**BODY, "starts_at": "2030-10-27T02:30", "ends_at": "2030-10-27T04:00"}, "occurs twice"),
    ({**BODY, "timezone": "Mars/Base"}, "unknown time zone"),
    ({**BODY, "ends_at": "2030-11-05T17:00"}, "end must be after"),
    ({**BODY, "capacity": "many"}, "capacity"),
    ({**BODY, "per_attendee_cost": "abc"}, "per_attendee_cost"),
    ({**BODY, "colour": "red"}, "unknown fields"),
    ({"title": "x"}, "starts_at"),
    ({**BODY, "questions": [{"label": "Diet", "kind": "choice", "choices": ["a"]}]}, "choices"),
])
def test_bad_input_gives_422_with_a_clear_message(api, body, needle):
    r = api("POST", "/events", json=body)
    assert r.status_code == 422
    assert needle in r.get_json()["error"]["message"]


def test_bad_bodies_and_ids(api):
    assert api("POST", "/events", data="nope", content_type="application/json").status_code == 400
    assert api("PATCH", "/events/999999", json={}).status_code == 404
    eid = api("POST", "/events", json=BODY).get_json()["id"]
    api("POST", f"/events/{eid}/publish")
    for body in ({}, {"member_ids": []}, {"member_ids": ["1"]},
                 {"member_ids": [1], "segment": {}}, {"segment": {"min_tier": "Nope"}},
                 {"segment": {"regions": "Köln"}}, {"segment": {"segment_id": 999999}}):
        r = api("POST", f"/events/{eid}/invitations", json=body)
        assert r.status_code == 422, (body, r.get_json())


def test_invite_a_segment_by_criteria(api):
    eid = api("POST", "/events", json=BODY).get_json()["id"]
    api("POST", f"/events/{eid}/publish")
    r = api("POST", f"/events/{eid}/invitations", json={"segment": {"regions": ["Berlin"]}})
    assert r.status_code == 201
    assert r.get_json()["created"] == 3 and r.get_json()["skipped_counts"] == {"no_email": 1}
