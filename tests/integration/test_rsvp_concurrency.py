"""500 simultaneous accepts at a 50-seat event through the real HTTP stack (threaded WSGI
server, public RSVP form with CSRF), on SQLite and PostgreSQL: exactly 50 accepted, 450
waitlisted with unique positions 1..450, no error response; freed seats go in order."""
from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select
from werkzeug.serving import make_server

from bench.events import crowded_event, load_form, post_accept
from engagement.events.models import Invitation
from engagement.events.rsvp import services as rsvp
from engagement.extensions import db

N, SEATS, WORKERS = 500, 50, 50
NOW = datetime(2027, 7, 1, 10, 0, tzinfo=UTC)


def _serve(app):
    server = make_server("127.0.0.1", 0, app, threaded=True)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    return server, thread


def test_500_simultaneous_accepts_fill_50_seats(app_any):
    app = app_any
    event_id, tokens = crowded_event(app, clients=N, seats=SEATS, now=NOW, source="load")
    server, thread = _serve(app)
    port = server.server_port
    try:
        with ThreadPoolExecutor(WORKERS) as pool:
            forms = list(pool.map(lambda t: load_form(port, t), tokens))
            # All forms are loaded first, so the POSTs below really arrive together.
            barrier = threading.Barrier(WORKERS)

            def fire(args):
                token, (cookie, csrf) = args
                try:
                    barrier.wait(timeout=5)
                except threading.BrokenBarrierError:
                    pass
                return post_accept(port, token, cookie, csrf)

            statuses = list(pool.map(fire, zip(tokens, forms, strict=True)))
    finally:
        server.shutdown()
        thread.join(10)
    assert statuses == [302] * N  # every answer is taken: no 5xx, no lock errors
    with app.app_context():
        counts = dict(db.session.execute(
            select(Invitation.status, func.count()).where(Invitation.event_id == event_id)
            .group_by(Invitation.status)).all())
        assert {str(k): v for k, v in counts.items()} == {"accepted": SEATS,
                                                          "waitlisted": N - SEATS}
        positions = sorted(db.session.scalars(select(Invitation.waitlist_position).where(
            Invitation.event_id == event_id, Invitation.status == "waitlisted")))
        assert positions == list(range(1, N - SEATS + 1))
        assert db.session.scalar(select(func.count()).where(
            Invitation.event_id == event_id, Invitation.status == "accepted",
            Invitation.waitlist_position.is_not(None))) == 0

        # Freeing three seats offers them to positions 1..3 in order; an expired offer
        # passes on to position 4.
        head = {p: i for i, p in db.session.execute(
            select(Invitation.id, Invitation.waitlist_position)
            .where(Invitation.event_id == event_id, Invitation.waitlist_position <= 4))}
        leavers = db.session.scalars(select(Invitation).where(
            Invitation.event_id == event_id, Invitation.status == "accepted")
            .order_by(Invitation.id).limit(3)).all()
        now = datetime.now(UTC)
        promoted = []
        for inv in leavers:
            promoted += rsvp.respond(db.session, inv, "declined", now=now).promoted
        assert promoted == [head[1], head[2], head[3]]
        first = db.session.get(Invitation, head[1])
        assert rsvp.respond(db.session, first, "accepted", now=now).status == "accepted"
        later = now + timedelta(hours=49)
        assert rsvp.expire_offers(db.session, now=later) == 2
        offered = db.session.scalars(select(Invitation.id).where(
            Invitation.event_id == event_id, Invitation.offer_expires_at.is_not(None))
            .order_by(Invitation.waitlist_position)).all()
        # Positions shifted: the old 4th and 5th are now 1st and 2nd and hold the offers.
        assert head[4] in offered and len(offered) == 2
        db.session.commit()
        accepted = db.session.scalar(select(func.count()).where(
            Invitation.event_id == event_id, Invitation.status == "accepted"))
        assert accepted == SEATS - 3 + 1
