"""Segments on a real database: the query, preview, saved segments, pages and audit."""
from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import select

from engagement.audit import AuditEntry
from engagement.community.models import Member, MemberWindowStats
from engagement.community.segments import services
from engagement.community.segments.models import Segment
from engagement.community.segments.rules import InvalidCriteria, criteria_from_dict
from engagement.extensions import db
from tests.conftest import csrf_token
from tests.factories import make_member, make_tier

NOW = datetime(2026, 11, 20, 12, tzinfo=UTC)


@pytest.fixture
def community(app):
    """Tiers and a handful of members with lifetime and windowed figures."""
    with app.app_context():
        for t in db.session.scalars(select(MemberWindowStats)):
            db.session.delete(t)
        tiers = {name: make_tier(name, rank, "answers >= 1") for name, rank in
                 (("SegRising", 101), ("SegExpert", 103), ("SegLegend", 105))}
        m = {}
        m["ada"] = make_member(display_name="Ada", tier_id=tiers["SegLegend"].id, region="Bayern",
                               locale="de", answers=5000, score=9000,
                               last_active=NOW - timedelta(days=2))
        m["bob"] = make_member(display_name="Bob", tier_id=tiers["SegExpert"].id, region="Bayern",
                               locale="en", answers=800, score=2000,
                               last_active=NOW - timedelta(days=40))
        m["cem"] = make_member(display_name="Cem", tier_id=tiers["SegExpert"].id, region="Berlin",
                               locale="de-AT", answers=900, score=2500, email=None,
                               last_active=NOW - timedelta(days=10))
        m["dora"] = make_member(display_name="Dora", tier_id=tiers["SegRising"].id,
                                region="Bayern", locale="de", answers=30, score=60,
                                last_active=NOW - timedelta(days=400))
        m["eve"] = make_member(display_name="Eve", tier_id=None, region=None, locale=None,
                               answers=0, score=0)
        for key, window, answers in (("ada", 365, 400), ("ada", 30, 20), ("bob", 365, 60),
                                     ("cem", 365, 45), ("dora", 365, 2)):
            db.session.add(MemberWindowStats(member_id=m[key].id, window_days=window,
                                             as_of=date(2026, 11, 19), answers=answers, posts=0,
                                             accepted_solutions=0, kudos_received=0, score=0))
        db.session.commit()
        yield {k: v.id for k, v in m.items()}


def names(session, data) -> list[str]:
    ids = session.scalars(services.segment_query(session, criteria_from_dict(data), now=NOW))
    return sorted(session.get(Member, i).display_name for i in ids)


@pytest.mark.parametrize(("data", "expected"), [
    ({"min_tier_rank": 103}, ["Ada", "Bob", "Cem"]),
    ({"tiers": ["SegRising", "SegLegend"]}, ["Ada", "Dora"]),
    ({"min_tier_rank": 103, "regions": ["Bayern"]}, ["Ada", "Bob"]),
    ({"metrics": [{"metric": "answers", "window": "365", "min": 45}]}, ["Ada", "Bob", "Cem"]),
    ({"metrics": [{"metric": "answers", "window": "30", "min": 1}]}, ["Ada"]),
    ({"metrics": [{"metric": "answers", "window": "lifetime", "min": 850}]}, ["Ada", "Cem"]),
    ({"locales": ["de"]}, ["Ada", "Cem", "Dora"]),
    ({"locales": ["de-at"]}, ["Cem"]),
    ({"active_within_days": 30}, ["Ada", "Cem"]),
    ({"has_email": True, "min_tier_rank": 103}, ["Ada", "Bob"]),
    ({"tiers": ["SegRising"], "min_tier_rank": 103}, []),
])
def test_segment_query_selects_exactly_the_matching_members(app, community, data, expected):
    with app.app_context():
        got = names(db.session, data)
        # Members of other tests' tiers are not involved: all fixtures use their own tiers.
        assert [n for n in got if n in {"Ada", "Bob", "Cem", "Dora", "Eve"}] == expected


def test_opted_out_members_are_excluded_on_request(app, community):
    with app.app_context():
        db.session.get(Member, community["bob"]).mail_opt_out_at = NOW
        db.session.flush()
        assert names(db.session, {"min_tier_rank": 103}) == ["Ada", "Bob", "Cem"]
        data = {"min_tier_rank": 103, "exclude_opted_out": True}
        assert names(db.session, data) == ["Ada", "Cem"]


def test_preview_counts_and_lists_by_score(app, community):
    with app.app_context():
        result = services.preview(db.session, criteria_from_dict({"min_tier_rank": 101}), 2,
                                  now=NOW)
        assert result.total == 4
        assert [m.display_name for m in result.members] == ["Ada", "Cem"]


def test_preview_of_a_large_segment_uses_the_top_of_the_score_list(app, community):
    # Almost everybody matches: the preview reads the top of the score index instead of
    # sorting the whole segment, and must still give the exact first members.
    with app.app_context():
        for i in range(60):
            make_member(display_name=f"Filler {i}", score=i, region="Bayern")  # below Dora (60)
        result = services.preview(db.session, criteria_from_dict({"regions": ["Bayern"]}), 3,
                                  now=NOW)
        assert result.total == 63
        assert [m.display_name for m in result.members] == ["Ada", "Bob", "Dora"]


def test_segment_query_is_a_composable_subquery(app, community):
    with app.app_context():
        sub = services.segment_query(db.session, criteria_from_dict({"regions": ["Bayern"]}))
        rows = db.session.scalars(select(Member.display_name).where(
            Member.id.in_(sub), Member.answers >= 100).order_by(Member.display_name)).all()
        assert rows == ["Ada", "Bob"]


def test_registered_extra_criterion_and_unknown_extras(app, community):
    with app.app_context():
        services.register_criterion_filter(
            "test_only_ids", lambda ids: Member.id.in_(ids), label="Only these ids",
            validate=lambda v: [int(x) for x in v])
        try:
            data = {"extra": {"test_only_ids": [community["ada"], community["dora"]]}}
            assert names(db.session, data) == ["Ada", "Dora"]
            with pytest.raises(InvalidCriteria, match="unknown criterion"):
                names(db.session, {"extra": {"nobody_registered_this": 1}})
        finally:
            services._FILTERS.pop("test_only_ids", None)


def test_save_update_delete_are_audited_and_counted(app, community):
    with app.app_context():
        seg = services.save_segment(db.session, name="Bavarian experts", description="",
                                    criteria=criteria_from_dict({"min_tier_rank": 103,
                                                                 "regions": ["Bayern"]}), now=NOW)
        assert seg.member_count == 2
        with pytest.raises(services.SegmentError):
            services.save_segment(db.session, name="Bavarian experts", description="",
                                  criteria=criteria_from_dict({}), now=NOW)
        with pytest.raises(InvalidCriteria, match="unknown tier"):
            services.save_segment(db.session, name="x", description="",
                                  criteria=criteria_from_dict({"tiers": ["Nope"]}), now=NOW)
        services.save_segment(db.session, name="Bavarian experts", description="d",
                              criteria=criteria_from_dict({"min_tier_rank": 105}), segment=seg,
                              now=NOW)
        assert seg.member_count == 1
        services.delete_segment(db.session, seg, now=NOW)
        actions = db.session.scalars(select(AuditEntry.action).where(
            AuditEntry.object_type == "segment").order_by(AuditEntry.id)).all()
        assert actions == ["segment.create", "segment.update", "segment.delete"]


def test_pages_preview_save_and_list(app, community, client, login_as):
    login_as("manager")
    token = csrf_token(client, "/segments/new")
    form = {"csrf_token": token, "name": "Experts", "min_tier_rank": "103",
            "regions": ["Bayern"], "metric_1": "answers", "window_1": "365", "min_1": "50",
            "window_2": "365", "window_3": "365"}
    resp = client.post("/segments/new", data={**form, "action": "preview"})
    html = resp.get_data(as_text=True)
    assert resp.status_code == 200
    assert "2 members" in html and "Ada" in html and "Bob" in html and "Cem" not in html
    with app.app_context():
        assert db.session.scalar(select(Segment).where(Segment.name == "Experts")) is None
    resp = client.post("/segments/new", data={**form, "action": "save"})
    assert resp.status_code == 302
    page = client.get("/segments").get_data(as_text=True)
    assert "Experts" in page and "Region: Bayern" in page
    bad = client.post("/segments/new", data={**form, "min_1": "-3", "action": "save"})
    assert bad.status_code == 400


def test_segments_are_a_manager_tool(app, community, client, login_as):
    login_as("hr")
    assert client.get("/segments").status_code == 403


@pytest.mark.parametrize("role", ["admin", "manager", "hr", "member", "anonymous"])
def test_route_role_matrix_with_segment_and_mailing_routes(app, role):
    from tests.helpers import check_route_role_matrix, routes

    paths = {rule.rule for rule, _ in routes(app)}
    assert {"/segments", "/segments/new", "/mailings/new"} <= paths
    assert check_route_role_matrix(app, role) >= 15
