"""RSVP benchmark (SPEC §9: "500 concurrent accepts on a 50-seat event: exactly 50 accepted,
450 waitlisted, no error").

Runs through the real HTTP stack like tests/integration/test_rsvp_concurrency.py: a threaded
werkzeug server, 500 clients that each load the public RSVP form of their own invitation
(session cookie + CSRF token) and then POST "accepted" at once. The baseline is the same
number of requests to /healthz through the same server and client pool, so the ratio shows
what the seat decision costs on top of HTTP and a database round trip.
"""
from __future__ import annotations

import http.client
import logging
import os
import re
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlencode

from bench import Context, Result, benchmark
from bench.setup import app_for, app_for_url, fresh_copy

CLIENTS, SEATS, WORKERS = 500, 50, 50
CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


def crowded_event(app, *, clients: int = CLIENTS, seats: int = SEATS,
                  now: datetime | None = None, source: str = "bench-rsvp",
                  ) -> tuple[int, list[str]]:
    """A published event with `seats` seats and `clients` invited members:
    (event id, invitation tokens). Shared with tests/integration/test_rsvp_concurrency.py."""
    from sqlalchemy import insert, select

    from engagement.community.models import Member
    from engagement.events import notifications, rules, services
    from engagement.events.models import Invitation
    from engagement.extensions import db

    now = now or datetime.now(UTC)
    berlin = rules.zone("Europe/Berlin")
    with app.app_context():
        values = rules.validate_event(rules.EventInput(
            title="Bench: crowded", description="", venue="", address="",
            starts_at=rules.parse_local("2099-11-05T18:00", berlin),
            ends_at=rules.parse_local("2099-11-05T22:00", berlin), timezone="Europe/Berlin",
            organizer_name="", organizer_email="events@bench.example", capacity=seats))
        event = services.create_event(db.session, values, now=now, base_url="http://localhost")
        services.publish_event(db.session, event, now=now)
        db.session.execute(insert(Member), [
            dict(source=source, external_id=str(i), display_name=f"Bench {i}",
                 email=f"bench{i}@bench.example", locale="en", region="Berlin")
            for i in range(clients)])
        ids = list(db.session.scalars(select(Member.id).where(Member.source == source)))
        services.invite(db.session, event, now=now, member_ids=ids)
        db.session.commit()
        rows = db.session.execute(select(Invitation.id, Invitation.nonce)
                                  .where(Invitation.event_id == event.id)).all()
        return event.id, [notifications.make_token(i, n) for i, n in rows]


def _request(port: int, method: str, path: str, body: str | None = None,
             headers: dict | None = None) -> tuple[int, http.client.HTTPResponse, str]:
    # A new connection per request: every client is its own browser.
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        response = conn.getresponse()
        text = response.read().decode("utf-8", "replace")
        return response.status, response, text
    finally:
        conn.close()


def load_form(port: int, token: str) -> tuple[str, str]:
    """GET the invitation page: (session cookie, CSRF token) of a fresh client."""
    status, response, body = _request(port, "GET", f"/i/{token}")
    match = CSRF.search(body)
    if status != 200 or match is None or not response.getheader("Set-Cookie"):
        raise RuntimeError(f"invitation page answered HTTP {status}: {body[:300]}")
    return response.getheader("Set-Cookie").split(";", 1)[0], match.group(1)


def post_accept(port: int, token: str, cookie: str, csrf: str) -> int:
    status, _response, _body = _request(
        port, "POST", f"/i/{token}/rsvp",
        body=urlencode({"csrf_token": csrf, "status": "accepted"}),
        headers={"Cookie": cookie, "Content-Type": "application/x-www-form-urlencoded"})
    return status


def _healthz(port: int) -> int:
    return _request(port, "GET", "/healthz")[0]


def _fire(pool: ThreadPoolExecutor, call, items: list) -> tuple[float, list[int | None]]:
    """Run `call(item)` for all items, released WORKERS at a time by a barrier so they really
    arrive together; (wall seconds, statuses with None for a failed connection)."""
    barrier = threading.Barrier(WORKERS)

    def one(item):
        try:
            barrier.wait(timeout=5)
        except threading.BrokenBarrierError:  # the last, smaller round goes without it
            pass
        try:
            return call(item)
        except OSError:
            return None

    started = time.perf_counter()
    statuses = list(pool.map(one, items))
    return time.perf_counter() - started, statuses


def _outcome(app, event_id: int) -> tuple[dict[str, int], bool]:
    """(count per invitation status, waitlist positions are exactly 1..450)."""
    from sqlalchemy import func, select

    from engagement.events.models import Invitation
    from engagement.extensions import db

    with app.app_context():
        counts = {str(getattr(k, "value", k)): v for k, v in db.session.execute(
            select(Invitation.status, func.count()).where(Invitation.event_id == event_id)
            .group_by(Invitation.status)).all()}
        positions = sorted(db.session.scalars(select(Invitation.waitlist_position).where(
            Invitation.event_id == event_id, Invitation.status == "waitlisted")))
        db.session.remove()
    return counts, positions == list(range(1, CLIENTS - SEATS + 1))


def run_accepts(app, label: str) -> Result:
    """The benchmark on the app's (fresh, migrated) database."""
    from werkzeug.serving import make_server

    event_id, tokens = crowded_event(app)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    # One access-log line per request would bury the bench output under 1,500 lines.
    access_log = logging.getLogger("werkzeug")
    level = access_log.level
    access_log.setLevel(logging.WARNING)
    thread.start()
    port = server.server_port
    try:
        with ThreadPoolExecutor(WORKERS) as pool:
            forms = list(pool.map(lambda t: load_form(port, t), tokens))
            # All forms are loaded first, so only the POSTs are timed and they come together.
            seconds, statuses = _fire(
                pool, lambda args: post_accept(port, args[0], *args[1]),
                list(zip(tokens, forms, strict=True)))
            baseline, base_statuses = _fire(pool, lambda _i: _healthz(port), list(range(CLIENTS)))
    finally:
        server.shutdown()
        thread.join(10)
        access_log.setLevel(level)
    counts, positions_ok = _outcome(app, event_id)
    with app.app_context():
        from engagement.extensions import db

        db.engine.dispose()
    accepted, waitlisted = counts.get("accepted", 0), counts.get("waitlisted", 0)
    errors = sum(s != 302 for s in statuses)  # the form redirects after every taken answer
    passed = (accepted, waitlisted, errors) == (SEATS, CLIENTS - SEATS, 0) and positions_ok
    note = f"accepted {accepted}, waitlisted {waitlisted}, errors {errors}"
    if not positions_ok:
        note += ", waitlist positions not 1..450"
    if any(s != 200 for s in base_statuses):
        note += f", baseline errors {sum(s != 200 for s in base_statuses)}"
    return Result(f"{CLIENTS} concurrent accepts ({label})", seconds, "s",
                  f"{SEATS}/{CLIENTS - SEATS}/0", passed, baseline,
                  f"{CLIENTS} x GET /healthz", note=note)


def _postgres_url() -> str | None:
    url = os.environ.get("TEST_POSTGRES_URL", "")
    return url if url.startswith("postgres") else None


def _run_on_postgres(url: str, work_dir: Path) -> Result:
    """Create a scratch database, migrate it, run, and drop it again (like tests/conftest.py)."""
    from flask_migrate import upgrade
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    base = make_url(url.replace("postgresql://", "postgresql+psycopg://", 1)
                    if url.startswith("postgresql://") else url)
    admin = create_engine(base.set(database="postgres"), isolation_level="AUTOCOMMIT")
    name = f"eng_bench_{uuid.uuid4().hex[:8]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        app = app_for_url(base.set(database=name).render_as_string(hide_password=False),
                          work_dir)
        with app.app_context():
            from engagement.extensions import db

            upgrade()
            db.session.remove()
        return run_accepts(app, "postgresql")
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@benchmark(50, "rsvp")
def bench_rsvp(ctx: Context) -> list[Result]:
    db_path = fresh_copy(ctx.template_db, ctx.work_dir / "rsvp.sqlite3")
    results = [run_accepts(app_for(db_path, ctx.work_dir), "sqlite")]
    url = _postgres_url()
    if url is None:
        print(f"  {CLIENTS} concurrent accepts (postgresql): skipped, TEST_POSTGRES_URL not set",
              flush=True)
    else:
        results.append(_run_on_postgres(url, ctx.work_dir))
    return results
