"""Event pages over HTTP: create, publish, preview a segment, invite, roles."""
from __future__ import annotations

import re

from engagement.events.models import Event, Invitation
from engagement.extensions import db
from tests.conftest import csrf_token
from tests.factories import make_member


def test_manager_creates_publishes_previews_and_invites(app, client, login_as):
    with app.app_context():
        for i in range(3):
            make_member(display_name=f"Köln {i}", region="Köln", email=f"k{i}@example.org")
        make_member(display_name="Berlin", region="Berlin")
        db.session.commit()
    login_as("manager")
    token = csrf_token(client, "/events/new")
    form = {"csrf_token": token, "title": "Herbsttreffen", "starts_at": "2030-03-31T02:30",
            "ends_at": "2030-03-31T05:00", "timezone": "Europe/Berlin",
            "organizer_email": "events@example.org", "questions-0-label": "Diet",
            "questions-0-kind": "choice", "questions-0-choices": "none, vegan"}
    r = client.post("/events/new", data=form)
    assert r.status_code == 422 and "does not exist in Europe/Berlin" in r.get_data(as_text=True)
    r = client.post("/events/new", data={**form, "starts_at": "2030-11-05T18:00",
                                         "ends_at": "2030-11-05T22:00"})
    assert r.status_code == 302
    event_id = int(re.search(r"/events/(\d+)", r.headers["Location"]).group(1))
    page = client.get(f"/events/{event_id}").get_data(as_text=True)
    assert "Herbsttreffen" in page and "Publish the event before inviting people." in page
    client.post(f"/events/{event_id}/publish", data={"csrf_token": token})
    r = client.post(f"/events/{event_id}/invite-segment",
                    data={"csrf_token": token, "regions": "Köln", "action": "preview"})
    html = r.get_data(as_text=True)
    assert r.status_code == 200 and "3 members match." in html and "Köln 2" in html
    r = client.post(f"/events/{event_id}/invite-segment",
                    data={"csrf_token": token, "regions": "Köln", "action": "invite"})
    assert "3 invitations created" in r.get_data(as_text=True)
    r = client.post(f"/events/{event_id}/invite", data={"csrf_token": token,
                                                        "members": "k0@example.org 999999"})
    html = r.get_data(as_text=True)
    assert "already invited" in html and "no such member" in html
    with app.app_context():
        assert db.session.scalar(db.select(db.func.count()).select_from(Invitation)) == 3
        assert db.session.get(Event, event_id).questions[0].choices == ["none", "vegan"]
    ics = client.get(f"/events/{event_id}/event.ics")
    assert ics.status_code == 200 and b"DTSTART;TZID=Europe/Berlin:20301105T180000" in ics.data
    r = client.post(f"/events/{event_id}/cancel", data={"csrf_token": token})
    assert r.status_code == 302
    assert "Cancelled" in client.get(f"/events/{event_id}").get_data(as_text=True)


def test_hr_reads_but_cannot_create(app, client, login_as):
    login_as("hr")
    assert client.get("/events").status_code == 200
    assert client.get("/events/new").status_code == 403
