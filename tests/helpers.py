"""Checks and scenarios that several test modules share (a helper module, not a test module)."""
from __future__ import annotations

import random
import re
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import select

from engagement.accounts.models import User
from engagement.accounts.services import create_token
from engagement.community.models import MemberWindowStats, Tier, TierHistory
from engagement.events import rules, services
from engagement.extensions import db
from engagement.timeutil import local_today_and_month_start, utcnow
from tests.factories import add_days, make_member, make_tier, make_user

SKIP_ENDPOINTS = {"static"}


def url_for_rule(rule) -> str:
    """A concrete URL for a routing rule: 999999 for numeric parts, "x" for the others."""
    def repl(match):
        conv = match.group(1) or "default"
        return "999999" if conv in ("int", "float") else "x"
    return re.sub(r"<(?:(\w+)(?:\([^)]*\))?:)?\w+>", repl, rule.rule)


def routes(app):
    """Every registered rule but static files, with its methods (no HEAD or OPTIONS)."""
    for rule in app.url_map.iter_rules():
        if rule.endpoint in SKIP_ENDPOINTS:
            continue
        methods = sorted(m for m in rule.methods if m not in ("HEAD", "OPTIONS"))
        yield rule, methods


def check_route_role_matrix(app, role: str) -> int:
    """Call every route as `role` and assert it answers as its declared roles say.

    Returns how many (route, method) pairs were checked.
    """
    app.config["WTF_CSRF_ENABLED"] = False
    client = app.test_client()
    token, user_id = None, None
    with app.app_context():
        if role != "anonymous":
            user = make_user(role=role)
            _t, token = create_token(db.session, user, "matrix")
            db.session.commit()
            user_id = user.id
    checked = 0
    for rule, methods in routes(app):
        allowed = app.view_functions[rule.endpoint].allowed_roles
        url = url_for_rule(rule)
        is_api = rule.rule.startswith("/api/")
        headers = {"Authorization": f"Bearer {token}"} if (is_api and token) else {}
        for method in methods:
            if user_id is not None:  # log in again: a route such as /logout ends the session
                with app.app_context():  # ...and every session of the user (its version)
                    cookie_id = db.session.get(User, user_id).get_id()
                with client.session_transaction() as sess:
                    sess["_user_id"] = cookie_id
            resp = client.open(url, method=method, headers=headers, data={},
                               follow_redirects=False)
            where = f"{method} {rule.rule} as {role} -> {resp.status_code}"
            assert resp.status_code != 500, where
            if allowed is None:  # public
                assert resp.status_code not in (401, 403), where
            elif role == "anonymous":
                if is_api:
                    assert resp.status_code == 401, where
                else:
                    assert resp.status_code == 302 and "/login" in resp.headers["Location"], where
            elif role in allowed:
                assert resp.status_code not in (401, 403), where
            else:
                assert resp.status_code == 403, where
            checked += 1
    return checked


FIRST = ["Anna", "Jonas", "Lena", "Paul", "Mia", "Finn", "Sophie", "Lukas", "Hannah", "Ben"]
LAST = ["Adler", "Schmidt", "Becker", "Wagner", "Hoffmann", "Richter", "Krüger", "Wolf"]
REGIONS = ["Berlin", "Bayern", "Hamburg", "NRW", "Sachsen"]


def seed_community(app) -> dict:
    """A small, realistic community: tiers, 60 members, two years of activity, movements."""
    rnd = random.Random(7)
    today = date.today()
    with app.app_context():
        tiers = list(db.session.scalars(select(Tier).order_by(Tier.rank)))
        if not tiers:
            tiers = [make_tier("Rising", 1, "answers >= 5", color="#0ea5e9"),
                     make_tier("Expert", 2, "answers >= 100", color="#7c3aed"),
                     make_tier("Legend", 3, "answers >= 1000", color="#e20074")]
        members = []
        for i in range(60):
            answers = int(rnd.paretovariate(0.9) * 3) if i else 12480
            accepted = answers // rnd.randint(3, 6)
            kudos = answers * rnd.randint(1, 3)
            score = 2 * answers + 15 * accepted + 4 * kudos
            level = min(len(tiers) - 1, int(score ** 0.5 / 40)) if score > 200 else None
            m = make_member(
                display_name=f"{FIRST[i % 10]} {LAST[(i * 7) % 8]}{'' if i < 10 else f' {i}'}",
                email=f"{FIRST[i % 10].lower()}.{i}@example.org", region=REGIONS[i % 5],
                source="khoros" if i % 4 else "stackexchange", external_id=f"U{1000 + i}",
                answers=answers, accepted_solutions=accepted, kudos_received=kudos,
                posts=answers + rnd.randint(0, 50), score=score,
                tier_id=tiers[level].id if level is not None else None,
                tier_since=datetime(2026, 2, 1, tzinfo=UTC) if level is not None else None,
                last_active=utcnow() - timedelta(days=rnd.randint(0, 90)),
                joined_at=datetime(2019, 5, 4, tzinfo=UTC))
            members.append(m)
            days = {}
            for _ in range(min(120, answers // 4 + 2)):
                d = today - timedelta(days=rnd.randint(0, 720))
                days[d] = {"answers": rnd.randint(1, 8), "accepted_solutions": rnd.randint(0, 2),
                           "posts": rnd.randint(1, 9), "kudos_received": rnd.randint(0, 6)}
            add_days(m, days)
            for window in (30, 90, 365):
                start = today - timedelta(days=window - 1)
                inside = [v for d, v in days.items() if start <= d <= today]
                if inside:
                    sums = {k: sum(v[k] for v in inside) for k in
                            ("posts", "answers", "accepted_solutions", "kudos_received")}
                    db.session.add(MemberWindowStats(
                        member_id=m.id, window_days=window, as_of=today,
                        score=2 * sums["answers"] + 15 * sums["accepted_solutions"]
                        + 4 * sums["kudos_received"], **sums))
        star = members[0]
        # Movements "this month" (in the programme's time zone) even just after midnight
        # on the 1st, when three hours ago was last month.
        now = utcnow()
        _, month_start = local_today_and_month_start("Europe/Berlin")
        recent = max(now - timedelta(hours=3), month_start + (now - month_start) / 3)
        db.session.add_all([
            TierHistory(member_id=star.id, from_tier_id=tiers[-2].id, to_tier_id=tiers[-1].id,
                        at=recent, kind="promotion",
                        reason="≥ 10,000 answers lifetime", actor="cli:compute-tiers"),
            TierHistory(member_id=star.id, from_tier_id=None, to_tier_id=tiers[-2].id,
                        at=datetime(2025, 6, 1, tzinfo=UTC), kind="promotion",
                        reason="≥ 1,500 answers in 365 days", actor="cli:compute-tiers"),
            TierHistory(member_id=members[5].id, from_tier_id=tiers[0].id, to_tier_id=None,
                        at=max(now - timedelta(hours=1), recent), kind="demotion",
                        reason="grace period over", actor="cli:compute-tiers"),
        ])
        manager = make_user(role="manager", email="manager@example.org", name="Maria Manager")
        db.session.commit()
        return {"star": star.id, "star_name": star.display_name, "manager": manager.email}


# --- events ---------------------------------------------------------------------------

EVENT_NOW = datetime(2027, 7, 1, 10, 0, tzinfo=UTC)  # 'now' of published_event()
BERLIN = rules.zone("Europe/Berlin")


def event_values(**changes):
    """A validated EventInput: a summit on 5 November 2027 in Cologne (override any field)."""
    values = dict(
        title="Power User Summit", description="Talks and dinner.", venue="Haus am Dom",
        address="Domkloster 2\n50667 Köln",
        starts_at=rules.parse_local("2027-11-05T18:00", BERLIN),
        ends_at=rules.parse_local("2027-11-05T22:00", BERLIN), timezone="Europe/Berlin",
        organizer_name="Community Team", organizer_email="events@example.org",
        reminder_days=2, capacity=50)
    values.update(changes)
    return rules.validate_event(rules.EventInput(**values))


def published_event(**changes):
    """The `event_values` event, created and published through the services at EVENT_NOW."""
    event = services.create_event(db.session, event_values(**changes), now=EVENT_NOW,
                                  base_url="http://localhost")
    services.publish_event(db.session, event, now=EVENT_NOW)
    return event


EVENT_BODY = {"title": "Summit", "starts_at": "2030-11-05T18:00", "ends_at": "2030-11-05T22:00",
        "timezone": "Europe/Berlin", "venue": "Haus", "address": "Domkloster 2, Köln",
        "capacity": 40, "rsvp_deadline": "2030-10-20T23:59", "per_attendee_cost": "45.5",
        "questions": [{"label": "Diet", "kind": "choice", "choices": ["none", "vegan"]}]}
