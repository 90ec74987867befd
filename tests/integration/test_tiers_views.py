"""Tier pages and the compute-tiers command, through HTTP and the CLI runner."""
from __future__ import annotations

from datetime import UTC, date, datetime

from sqlalchemy import func, select

from engagement.audit import AuditEntry
from engagement.community.models import Member, Tier, TierHistory
from engagement.community.scoring import load_weights
from engagement.community.tiers import services
from engagement.extensions import db
from tests.conftest import csrf_token
from tests.factories import make_member

NOW = datetime(2026, 11, 26, 3, 0, tzinfo=UTC)


def _tier(app, name: str) -> int:
    with app.app_context():
        return db.session.scalar(select(Tier.id).where(Tier.name == name))


def test_index_lists_tiers_for_hr_without_edit_controls(app, client, login_as):
    with app.app_context():
        make_member(answers=12000)
        services.compute_tiers(db.session, date(2026, 11, 26), NOW)
        db.session.commit()
    login_as("hr")
    html = client.get("/tiers").get_data(as_text=True)
    assert "Power User" in html and "answers &gt;= 10,000" in html
    assert "answers×2 + accepted_solutions×15 + kudos_received×4" in html
    assert "Recompute now" not in html and "/tiers/new" not in html
    assert client.get("/tiers/new").status_code == 403
    token = csrf_token(client, "/tiers")
    assert client.post("/tiers/recompute", data={"csrf_token": token}).status_code == 403


def test_manager_previews_then_saves_a_tier(app, client, login_as):
    with app.app_context():
        for n in (1200, 3000):
            make_member(answers=n, display_name=f"Helper {n}")
        db.session.commit()
    login_as("manager")
    token = csrf_token(client, "/tiers/new")
    form = {"csrf_token": token, "name": "Mentor", "rank": "25", "color": "#0f766e",
            "grace_days": "60", "description": "", "rule": "answers >= 1,000"}
    resp = client.post("/tiers/new", data={**form, "preview": "Preview"})
    html = resp.get_data(as_text=True)
    assert resp.status_code == 200
    assert "2</strong> members would move up" in html
    assert "Helper 3000" in html and "Helper 1200" in html
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Tier)) == 5  # not saved

    resp = client.post("/tiers/new", data={**form, "rule": "answers >= ", "save": "Save"})
    assert resp.status_code == 200
    assert "Position 12: Expected a whole number, found the end of the rule." in resp.get_data(
        as_text=True)

    resp = client.post("/tiers/new", data={**form, "rank": "30", "save": "Save"})
    assert "Another tier has this rank." in resp.get_data(as_text=True)

    resp = client.post("/tiers/new", data={**form, "save": "Save"})
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/tiers")
    with app.app_context():
        mentor = db.session.scalar(select(Tier).where(Tier.name == "Mentor"))
        assert (mentor.rank, mentor.grace_days, mentor.rule) == (25, 60, "answers >= 1,000")
        entry = db.session.scalars(select(AuditEntry).where(
            AuditEntry.action == "tier.create")).one()
        assert entry.after["name"] == "Mentor" and entry.actor.startswith("manager:")


def test_delete_refuses_a_tier_in_use(app, client, login_as):
    rising = _tier(app, "Rising")
    with app.app_context():
        make_member(tier_id=rising)
        db.session.commit()
    login_as("manager")
    token = csrf_token(client, f"/tiers/{rising}/edit")
    resp = client.post(f"/tiers/{rising}/delete", data={"csrf_token": token},
                       follow_redirects=True)
    assert "Rising cannot be deleted: 1 members hold it" in resp.get_data(as_text=True)
    legend = _tier(app, "Legend")
    resp = client.post(f"/tiers/{legend}/delete", data={"csrf_token": token},
                       follow_redirects=True)
    assert "Tier Legend deleted." in resp.get_data(as_text=True)
    assert client.post("/tiers/999999/delete", data={"csrf_token": token}).status_code == 404


def test_recompute_and_history(app, client, login_as):
    with app.app_context():
        member_id = make_member(answers=12000, display_name="Veteran Vera").id
        db.session.commit()
    login_as("manager")
    token = csrf_token(client, "/tiers")
    resp = client.post("/tiers/recompute", data={"csrf_token": token}, follow_redirects=True)
    html = resp.get_data(as_text=True)
    assert "1 members evaluated, 1 promoted, 0 demoted" in html
    assert "Last computed" in html
    html = client.get("/tiers/history").get_data(as_text=True)
    assert "Veteran Vera" in html and "Power User: answers 12,000 ≥ 10,000" in html
    assert "Veteran Vera" in client.get(f"/tiers/history?member={member_id}&kind=promotion"
                                        ).get_data(as_text=True)
    assert "Veteran Vera" not in client.get("/tiers/history?kind=demotion").get_data(as_text=True)
    assert client.get("/tiers/history?page=abc&tier=x").status_code == 200


def test_history_is_paginated(app, client, login_as):
    with app.app_context():
        m = make_member()
        db.session.add_all(TierHistory(member_id=m.id, from_tier_id=None, to_tier_id=None,
                                       at=NOW, kind="promotion", reason=f"r{i}", actor="t")
                           for i in range(120))
        db.session.commit()
    login_as("hr")
    html = client.get("/tiers/history?page=3").get_data(as_text=True)
    assert "Page 3 of 3" in html and html.count('class="hide-sm">r') == 20


def test_weights_form(app, client, login_as):
    login_as("manager")
    token = csrf_token(client, "/tiers")
    resp = client.post("/tiers/weights", data={
        "csrf_token": token, "posts": "1", "answers": "3", "accepted_solutions": "20",
        "kudos_received": "0"}, follow_redirects=True)
    assert "Score weights saved" in resp.get_data(as_text=True)
    with app.app_context():
        assert load_weights(db.session).accepted_solutions == 20
    resp = client.post("/tiers/weights", data={"csrf_token": token, "posts": "-1"},
                       follow_redirects=True)
    assert resp.status_code == 200 and "Points per post" in resp.get_data(as_text=True)


def test_override_route(app, client, login_as):
    legend = _tier(app, "Legend")
    with app.app_context():
        member_id = make_member(answers=12000).id
        db.session.commit()
    login_as("manager")
    token = csrf_token(client, "/tiers")
    resp = client.post(f"/members/{member_id}/tier-override",
                       data={"csrf_token": token, "tier": str(legend), "reason": ""})
    assert resp.status_code == 302 and resp.headers["Location"].endswith(f"/members/{member_id}")
    with app.app_context():
        assert db.session.get(Member, member_id).tier_override_id is None  # reason required
    client.post(f"/members/{member_id}/tier-override",
                data={"csrf_token": token, "tier": str(legend), "reason": "Founder"})
    with app.app_context():
        m = db.session.get(Member, member_id)
        assert (m.tier_id, m.tier_override_id, m.tier_override_reason) == (
            legend, legend, "Founder")
    client.post(f"/members/{member_id}/tier-override",
                data={"csrf_token": token, "tier": "", "reason": "Retired"})
    with app.app_context():
        m = db.session.get(Member, member_id)
        assert (m.tier.name, m.tier_override_id) == ("Power User", None)
        kinds = db.session.scalars(select(TierHistory.kind).order_by(TierHistory.id)).all()
        assert kinds == ["override", "override-removed"]


def test_override_partial_renders(app, login_as):
    with app.test_request_context("/"):
        from flask import render_template

        m = make_member()
        tiers = db.session.scalars(select(Tier).order_by(Tier.rank.desc())).all()
        html = render_template("community/tiers/_override_form.html", member=m, tiers=tiers,
                               current_role="manager")
        assert f'action="/members/{m.id}/tier-override"' in html
        assert html.count("<option") == 6 and 'name="reason"' in html
        assert render_template("community/tiers/_override_form.html", member=m, tiers=tiers,
                               current_role="hr").strip() == ""


def test_compute_tiers_command(app, runner):
    with app.app_context():
        make_member(answers=12000)
        db.session.commit()
    result = runner.invoke(args=["compute-tiers", "--as-of", "2026-11-26"])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("as of 2026-11-26: 1 members evaluated, 1 promoted, "
                                    "0 demoted, 0 demotions pending, 0 overridden, ")
    with app.app_context():
        entry = db.session.scalars(select(AuditEntry).where(
            AuditEntry.action == "tiers.compute")).one()
        assert entry.actor == "cli:compute-tiers"
        assert db.session.scalar(select(TierHistory.actor)) == "cli:compute-tiers"
    bad = runner.invoke(args=["compute-tiers", "--as-of", "26.11.2026"])
    assert bad.exit_code == 2 and "'26.11.2026' is not a date; use YYYY-MM-DD" in bad.output


def test_compute_tiers_command_reports_a_broken_rule(app, runner):
    with app.app_context():
        db.session.execute(Tier.__table__.update().where(Tier.name == "Expert")
                           .values(rule="answers >>= 3"))
        db.session.commit()
    result = runner.invoke(args=["compute-tiers"])
    assert result.exit_code == 1
    assert "the rule of tier 'Expert' is invalid: position 10" in result.output


def test_a_rule_with_500_nested_parentheses_is_a_form_error(app, client, login_as):
    login_as("manager")
    token = csrf_token(client, "/tiers/new")
    rule = "(" * 500 + "answers >= 1" + ")" * 500
    form = {"csrf_token": token, "name": "Deep", "rank": "26", "color": "#0f766e",
            "grace_days": "60", "description": "", "rule": rule}
    for button in ({"preview": "Preview"}, {"save": "Save"}):
        resp = client.post("/tiers/new", data={**form, **button})
        assert resp.status_code == 200, button
        assert "Position 33: The rule is nested too deeply" in resp.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(select(Tier.id).where(Tier.name == "Deep")) is None
