"""JSON API: members, member detail, tiers (SPEC §4a) — auth, pagination, filters, errors."""
from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from engagement.accounts.services import create_token
from engagement.community.models import Member, Tier, TierHistory
from engagement.extensions import db
from tests.factories import make_member, make_user


@pytest.fixture
def token(app):
    """Make an API token for a new user of `role`."""
    def _token(role: str = "manager") -> dict:
        with app.app_context():
            user = make_user(role=role)
            _t, plain = create_token(db.session, user, "test")
            db.session.commit()
        return {"Authorization": f"Bearer {plain}"}
    return _token


@pytest.fixture
def community(app):
    """Seven members across two sources and tiers, one with tier history."""
    with app.app_context():
        tiers = {t.name: t for t in db.session.scalars(select(Tier))}
        expert, power = tiers["Expert"], tiers["Power User"]
        at = datetime(2026, 3, 1, 12, 30, tzinfo=UTC)
        ids = {}
        ids["anna"] = make_member(source="csv", external_id="a1", display_name="Anna Müller",
                                  email="anna@example.org", answers=12000,
                                  accepted_solutions=3000, kudos_received=900, posts=15000,
                                  tier_id=power.id, last_active=at).id
        ids["ben"] = make_member(source="csv", external_id="b2", display_name="Ben 100%_sure",
                                 email="ben@example.org", answers=1500, tier_id=expert.id).id
        for n in range(5):
            ids[f"se{n}"] = make_member(source="stackexchange", external_id=f"{700 + n}",
                                        display_name=f"Helper {n}",
                                        answers=n).id
        db.session.add_all([
            TierHistory(member_id=ids["anna"], from_tier_id=None, to_tier_id=expert.id,
                        at=datetime(2025, 1, 1, tzinfo=UTC), kind="promotion",
                        reason="answers >= 1,000", actor="cli:compute-tiers"),
            TierHistory(member_id=ids["anna"], from_tier_id=expert.id, to_tier_id=power.id,
                        at=at, kind="promotion", reason="answers >= 10,000",
                        actor="cli:compute-tiers"),
        ])
        db.session.commit()
    return ids


def test_requires_a_token_and_a_staff_role(client, token, community):
    resp = client.get("/api/v1/members")
    assert resp.status_code == 401
    assert resp.get_json()["error"]["code"] == "unauthorized"
    assert resp.headers["WWW-Authenticate"].startswith("Bearer")
    assert client.get("/api/v1/members",
                      headers={"Authorization": "Bearer eng_nope"}).status_code == 401
    member = token("member")
    for url in ("/api/v1/members", f"/api/v1/members/{community['anna']}", "/api/v1/tiers"):
        resp = client.get(url, headers=member)
        assert resp.status_code == 403, url
        assert resp.get_json()["error"]["code"] == "forbidden"
    for role in ("manager", "hr", "admin"):
        assert client.get("/api/v1/members", headers=token(role)).status_code == 200


def test_members_list_fields_and_order(client, token, community):
    body = client.get("/api/v1/members", headers=token()).get_json()
    assert body["total"] == 7
    assert [m["id"] for m in body["items"]] == sorted(community.values())
    anna = body["items"][0]
    assert anna == {
        "id": community["anna"], "source": "csv", "external_id": "a1",
        "display_name": "Anna Müller", "email": "anna@example.org", "tier": "Power User",
        "answers": 12000, "accepted_solutions": 3000, "kudos_received": 900, "posts": 15000,
        "last_active": "2026-03-01T12:30:00Z",
    }
    assert body["items"][2]["tier"] is None and body["items"][2]["last_active"] is None


def test_pagination(client, token, community):
    headers = token()
    page1 = client.get("/api/v1/members?per_page=3", headers=headers).get_json()
    page3 = client.get("/api/v1/members?per_page=3&page=3", headers=headers).get_json()
    beyond = client.get("/api/v1/members?per_page=3&page=9", headers=headers).get_json()
    assert page1["total"] == page3["total"] == beyond["total"] == 7
    assert len(page1["items"]) == 3 and len(page3["items"]) == 1
    assert page3["items"][0]["id"] == max(community.values())
    assert beyond["items"] == []
    assert len(client.get("/api/v1/members?per_page=500", headers=headers)
               .get_json()["items"]) == 7


@pytest.mark.parametrize("query", [
    "per_page=0", "per_page=501", "per_page=abc", "per_page=1.5", "page=0", "page=-1",
    "page=x", "page=99999999999999999999", "tier=Nonexistent", "q=" + "x" * 300,
])
def test_bad_parameters_are_400_json(client, token, community, query):
    resp = client.get(f"/api/v1/members?{query}", headers=token())
    assert resp.status_code == 400, query
    error = resp.get_json()["error"]
    assert error["code"] in ("invalid_parameter", "unknown_tier") and error["message"]


def test_unknown_tier_message_names_the_known_tiers(client, token, community):
    message = client.get("/api/v1/members?tier=Gold", headers=token()).get_json()["error"]
    assert "Gold" in message["message"] and "Power User" in message["message"]


def test_filters(client, token, community):
    headers = token("hr")

    def ids(query):
        body = client.get(f"/api/v1/members?{query}", headers=headers).get_json()
        assert body["total"] == len(body["items"])
        return [m["id"] for m in body["items"]]

    assert ids("q=müller") == ids("q=Anna") == [community["anna"]]
    assert ids("q=anna@example.org") == [community["anna"]]
    assert ids("q=ANNA@EXAMPLE.ORG") == [community["anna"]]
    assert ids("q=702") == [community["se2"]]  # external id
    assert ids("q=100%25") == [community["ben"]]  # a literal % is not a wildcard
    assert ids("q=%25") == [community["ben"]]
    assert ids("q=_") == [community["ben"]]
    assert ids("q=zzz") == []
    assert ids("tier=power user") == [community["anna"]]
    assert ids("tier=Expert") == [community["ben"]]
    assert ids("tier=Legend") == []
    assert len(ids("source=stackexchange")) == 5
    assert ids("source=stackexchange&q=Helper 3") == [community["se3"]]
    assert ids("source=csv&tier=Expert") == [community["ben"]]
    assert ids("source=nowhere") == []


def test_member_detail_with_tier_history(client, token, community):
    resp = client.get(f"/api/v1/members/{community['anna']}", headers=token())
    assert resp.status_code == 200
    body = resp.get_json()
    assert body["display_name"] == "Anna Müller" and body["tier"] == "Power User"
    assert body["tier_history"] == [
        {"tier": "Power User", "from_tier": "Expert", "at": "2026-03-01T12:30:00Z",
         "reason": "answers >= 10,000", "kind": "promotion"},
        {"tier": "Expert", "from_tier": None, "at": "2025-01-01T00:00:00Z",
         "reason": "answers >= 1,000", "kind": "promotion"},
    ]
    ben = client.get(f"/api/v1/members/{community['ben']}", headers=token()).get_json()
    assert ben["tier_history"] == []


def test_unknown_member_is_404_json(client, token, community):
    resp = client.get("/api/v1/members/999999", headers=token())
    assert resp.status_code == 404
    assert resp.get_json() == {"error": {"code": "not_found",
                                         "message": "no member with id 999999"}}


def test_tiers_with_member_counts(client, token, community):
    body = client.get("/api/v1/tiers", headers=token()).get_json()
    assert body["total"] == 5
    assert [(t["name"], t["member_count"]) for t in body["items"]] == [
        ("Rising", 0), ("Contributor", 0), ("Expert", 1), ("Power User", 1), ("Legend", 0)]
    ranks = [t["rank"] for t in body["items"]]
    assert ranks == sorted(ranks)
    assert "answers >= 10,000" in body["items"][3]["rule"]
    page = client.get("/api/v1/tiers?per_page=2&page=2", headers=token()).get_json()
    assert [t["name"] for t in page["items"]] == ["Expert", "Power User"]
    assert client.get("/api/v1/tiers?per_page=0", headers=token()).status_code == 400


def test_api_members_on_postgresql(app_any):
    """The search (ILIKE with escapes) and the joins also work on PostgreSQL."""
    client = app_any.test_client()
    with app_any.app_context():
        user = make_user(role="manager")
        _t, plain = create_token(db.session, user, "pg")
        tier = db.session.scalar(select(Tier).where(Tier.name == "Expert"))
        m = make_member(display_name="Jürgen 50%", tier_id=tier.id, answers=7)
        make_member(display_name="Other")
        db.session.commit()
        member_id = m.id
    headers = {"Authorization": f"Bearer {plain}"}
    body = client.get("/api/v1/members?q=50%25&tier=expert", headers=headers).get_json()
    assert [i["id"] for i in body["items"]] == [member_id] and body["total"] == 1
    tiers = client.get("/api/v1/tiers", headers=headers).get_json()["items"]
    assert {t["name"]: t["member_count"] for t in tiers}["Expert"] == 1
    with app_any.app_context():
        assert db.session.get(Member, member_id).answers == 7


def test_rare_match_plan_gives_the_same_pages(client, token, community, monkeypatch):
    """The sort-the-matches plan (chosen for rare matches on big tables) pages identically."""
    import engagement.api.members as api_members

    headers = token()
    urls = ["/api/v1/members?q=Helper&per_page=2", "/api/v1/members?q=Helper&per_page=2&page=3",
            "/api/v1/members?q=a1", "/api/v1/members?q=e&source=stackexchange"]
    before = [client.get(u, headers=headers).get_json() for u in urls]
    monkeypatch.setattr(api_members, "SCAN_LIMIT", 0)
    after = [client.get(u, headers=headers).get_json() for u in urls]
    assert after == before
    assert [m["display_name"] for m in before[1]["items"]] == ["Helper 4"]
    assert before[2]["items"][0]["external_id"] == "a1" and before[2]["total"] == 1
