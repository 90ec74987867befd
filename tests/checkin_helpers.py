"""Door scenarios that the check-in test modules share (a helper module, not a test module):
a published event on 5 November 2030 in Cologne and its accepted guests."""
from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import urlsplit

from sqlalchemy import select

from engagement.events import rules, services
from engagement.events.checkin import tickets
from engagement.events.models import Invitation
from engagement.events.rsvp import services as rsvp
from engagement.extensions import db
from tests.factories import make_member

BERLIN = rules.zone("Europe/Berlin")
SETUP = datetime(2029, 1, 1, 10, 0, tzinfo=UTC)


def future_event(**changes):
    values = dict(
        title="Door Test Summit", description="", venue="Haus am Dom", address="Köln",
        starts_at=rules.parse_local("2030-11-05T18:00", BERLIN),
        ends_at=rules.parse_local("2030-11-05T22:00", BERLIN), timezone="Europe/Berlin",
        organizer_name="Team", organizer_email="events@example.org", capacity=2)
    values.update(changes)
    event = services.create_event(db.session, rules.validate_event(rules.EventInput(**values)),
                                  now=SETUP, base_url="http://localhost")
    services.publish_event(db.session, event, now=SETUP)
    return event


def accepted(event, n=1, status="accepted"):
    members = [make_member(email=f"guest{i}-{event.id}@example.org",
                           display_name=f"Guest {i} Example") for i in range(n)]
    services.invite(db.session, event, now=SETUP, member_ids=[m.id for m in members])
    invs = list(db.session.scalars(select(Invitation).where(Invitation.event_id == event.id)
                                   .order_by(Invitation.id)))[-n:]
    for inv in invs:
        rsvp.respond(db.session, inv, status, now=SETUP)
    return invs


def scan_path(inv) -> str:
    return urlsplit(tickets.checkin_url(inv.id, inv.nonce)).path
