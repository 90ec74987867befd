"""Tier services on a real database (SQLite and PostgreSQL): stats, compute, preview, overrides."""
from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import delete, func, select

from engagement.audit import AuditEntry, verify
from engagement.community.models import Member, MemberWindowStats, Tier, TierHistory
from engagement.community.scoring import ScoreWeights
from engagement.community.stats import refresh_window_stats, window_stats_as_of
from engagement.community.tiers import services
from engagement.community.tiers.rules import parse_rule
from engagement.extensions import db
from tests.factories import add_days, make_member, make_tier

AS_OF = date(2026, 11, 26)
NOW = datetime(2026, 11, 26, 3, 0, tzinfo=UTC)


def tier(name: str) -> Tier:
    return db.session.scalar(select(Tier).where(Tier.name == name))


def history(member: Member) -> list[tuple[str | None, str | None, str, str]]:
    rows = db.session.scalars(select(TierHistory).where(TierHistory.member_id == member.id)
                              .order_by(TierHistory.id)).all()
    return [(h.from_tier.name if h.from_tier else None, h.to_tier.name if h.to_tier else None,
             h.kind, h.reason) for h in rows]


def fresh(member: Member) -> Member:
    db.session.expire_all()
    return db.session.get(Member, member.id)


def test_migration_seeds_the_default_ladder(app_any):
    with app_any.app_context():
        tiers = db.session.scalars(select(Tier).order_by(Tier.rank)).all()
        assert [t.name for t in tiers] == ["Rising", "Contributor", "Expert", "Power User",
                                           "Legend"]
        assert len({t.color for t in tiers}) == 5
        for t in tiers:
            parse_rule(t.rule)  # every default rule is valid
        assert tier("Power User").rule == (
            "answers >= 10,000 or (answers[365d] >= 1,500 and accepted_solutions[365d] >= 300)")


def test_window_stats_sum_each_window_up_to_as_of(app_any):
    with app_any.app_context():
        a, b, idle = make_member(), make_member(), make_member()
        add_days(a, {
            AS_OF: {"answers": 1, "kudos_received": 1},
            AS_OF - timedelta(days=29): {"answers": 10, "accepted_solutions": 1},  # in 30d
            AS_OF - timedelta(days=30): {"answers": 100},                  # 30d boundary: out
            AS_OF - timedelta(days=364): {"answers": 1000},                # last day of 365d
            AS_OF - timedelta(days=365): {"answers": 10000},               # out of every window
            AS_OF + timedelta(days=1): {"answers": 100000},                # after as_of: out
        })
        add_days(b, {AS_OF - timedelta(days=200): {"posts": 3}})
        refresh_window_stats(db.session, AS_OF)
        stats = {(s.member_id, s.window_days): s for s in db.session.scalars(
            select(MemberWindowStats))}
        assert {k: v.answers for k, v in stats.items() if k[0] == a.id} == {
            (a.id, 30): 11, (a.id, 90): 111, (a.id, 365): 1111}
        # the windowed score uses the default weights: answers*2 + solutions*15 + kudos*4
        assert stats[(a.id, 30)].score == 11 * 2 + 15 + 4
        assert stats[(a.id, 30)].as_of == AS_OF
        # only members with activity in a window have a row
        assert set(stats) - {(a.id, w) for w in (30, 90, 365)} == {(b.id, 365)}
        assert idle.id not in {k[0] for k in stats}
        assert window_stats_as_of(db.session) == AS_OF
        # rebuilding for another day replaces the rows
        refresh_window_stats(db.session, AS_OF + timedelta(days=400))
        assert db.session.scalar(select(func.count()).select_from(MemberWindowStats)) == 0


def test_compute_promotes_with_reason_and_is_idempotent(app_any):
    with app_any.app_context():
        veteran = make_member(answers=12000, accepted_solutions=10)
        active = make_member(answers=2000)
        add_days(active, {AS_OF - timedelta(days=10): {"answers": 1620,
                                                       "accepted_solutions": 310}})
        newbie = make_member(score=60)
        nobody = make_member()
        result = services.compute_tiers(db.session, AS_OF, NOW)
        assert (result.evaluated, result.promoted, result.demoted, result.unchanged) == (
            4, 3, 0, 1)
        assert fresh(veteran).tier.name == "Power User"
        assert fresh(veteran).tier_since == NOW
        assert fresh(nobody).tier_id is None
        assert history(active) == [(None, "Power User", "promotion",
                                    "Power User: answers[365d] 1,620 ≥ 1,500 and "
                                    "accepted_solutions[365d] 310 ≥ 300")]
        assert history(newbie) == [(None, "Rising", "promotion", "Rising: score 60 ≥ 50")]
        actors = db.session.scalars(select(TierHistory.actor)).all()
        assert len(actors) == 3 and all(actors)
        entry = db.session.scalars(select(AuditEntry).where(
            AuditEntry.action == "tiers.compute")).one()
        assert entry.after["promoted"] == 3 and entry.after["as_of"] == "2026-11-26"
        db.session.commit()
        again = services.compute_tiers(db.session, AS_OF, NOW + timedelta(hours=1))
        assert (again.promoted, again.demoted, again.unchanged) == (0, 0, 4)
        assert db.session.scalar(select(func.count()).select_from(TierHistory)) == 3
        assert verify(db.session).ok


def test_demotion_waits_for_the_grace_period(app_any):
    """Power User by the 365-day window only: once the activity leaves the window, the member
    keeps the tier for 90 days (Power User's grace), then drops straight to what they meet."""
    with app_any.app_context():
        m = make_member(answers=1600, accepted_solutions=320)
        start = AS_OF - timedelta(days=300)
        add_days(m, {start: {"answers": 1600, "accepted_solutions": 320}})
        services.compute_tiers(db.session, AS_OF, NOW)
        assert fresh(m).tier.name == "Power User"

        leaves = start + timedelta(days=365)  # the day falls out of the window
        r = services.compute_tiers(db.session, leaves, NOW)
        m = fresh(m)
        assert (m.tier.name, m.demotion_pending_since, r.pending_demotions) == (
            "Power User", leaves, 1)
        r = services.compute_tiers(db.session, leaves + timedelta(days=89), NOW)
        m = fresh(m)
        assert (m.tier.name, m.demotion_pending_since, r.demoted) == ("Power User", leaves, 0)
        r = services.compute_tiers(db.session, leaves + timedelta(days=90), NOW)
        m = fresh(m)
        # lifetime 1,600 answers and 320 solutions still make an Expert
        assert (m.tier.name, m.demotion_pending_since, r.demoted, r.pending_demotions) == (
            "Expert", None, 1, 0)
        kind, reason = history(m)[-1][2:]
        assert kind == "demotion"
        assert reason.startswith("below Power User (answers 1,600 < 10,000 and "
                                 "answers[365d] 0 < 1,500)")
        assert "Expert: answers 1,600 ≥ 1,000 and accepted_solutions 320 ≥ 150" in reason


def test_qualifying_again_clears_the_pending_demotion(app_any):
    with app_any.app_context():
        m = make_member(answers=100)
        add_days(m, {AS_OF: {"posts": 10}})  # Rising through posts[90d]
        services.compute_tiers(db.session, AS_OF, NOW)
        assert fresh(m).tier.name == "Rising"
        later = AS_OF + timedelta(days=100)
        services.compute_tiers(db.session, later, NOW)
        assert fresh(m).demotion_pending_since == later
        add_days(m, {later + timedelta(days=5): {"posts": 12}})
        services.compute_tiers(db.session, later + timedelta(days=5), NOW)
        m = fresh(m)
        assert (m.tier.name, m.demotion_pending_since) == ("Rising", None)


def test_override_wins_until_removed(app_any):
    with app_any.app_context():
        m = make_member(answers=12000)
        services.compute_tiers(db.session, AS_OF, NOW)
        services.set_override(db.session, fresh(m), tier("Legend"), "Founding moderator",
                              NOW, AS_OF)
        m = fresh(m)
        assert (m.tier.name, m.tier_override.name, m.tier_override_reason) == (
            "Legend", "Legend", "Founding moderator")
        r = services.compute_tiers(db.session, AS_OF + timedelta(days=400), NOW)
        assert (r.overridden, r.demoted) == (1, 0)
        assert fresh(m).tier.name == "Legend"

        with pytest.raises(services.OverrideError):
            services.set_override(db.session, fresh(m), None, "  ", NOW, AS_OF)
        services.set_override(db.session, fresh(m), None, "Stepped down", NOW, AS_OF)
        m = fresh(m)
        assert (m.tier.name, m.tier_override_id, m.tier_override_reason) == (
            "Power User", None, None)
        assert history(m)[-2:] == [
            ("Power User", "Legend", "override", "Founding moderator"),
            ("Legend", "Power User", "override-removed", "Stepped down"),
        ]
        actions = db.session.scalars(select(AuditEntry.action).order_by(AuditEntry.id)).all()
        assert actions.count("member.override") == 1
        assert actions.count("member.override-removed") == 1
        with pytest.raises(services.OverrideError):
            services.set_override(db.session, m, None, "again", NOW, AS_OF)


def test_preview_counts_movers_without_saving(app_any):
    with app_any.app_context():
        members = [make_member(answers=n, score=100 + n // 10, display_name=f"A{n}")
                   for n in (500, 1200, 3000)]
        for m in members:
            add_days(m, {AS_OF: {"answers": 1}})
        services.compute_tiers(db.session, AS_OF, NOW)
        assert {fresh(m).tier.name for m in members} == {"Rising"}
        expert = tier("Expert")
        values = services.TierValues("Expert", 30, "answers >= 1,000", expert.color, 90)
        ladder = services.draft_ladder(db.session, expert, values)
        preview = services.preview_ladder(db.session, ladder, AS_OF)
        assert (preview.up, preview.down, preview.stay) == (2, 0, 1)
        assert [(mv.display_name, mv.from_tier, mv.to_tier, mv.up) for mv in preview.movers] == [
            ("A3000", "Rising", "Expert", True), ("A1200", "Rising", "Expert", True)]
        # a stricter Rising moves the smallest member down (after grace)
        rising = tier("Rising")
        values = services.TierValues("Rising", 10, "answers >= 1,000", rising.color, 30)
        preview = services.preview_ladder(
            db.session, services.draft_ladder(db.session, rising, values), AS_OF)
        assert (preview.up, preview.down, preview.stay) == (0, 1, 2)
        assert preview.movers[0].to_tier is None and not preview.movers[0].up
        # a new tier gets a placeholder id and shows by name
        values = services.TierValues("Mentor", 15, "answers >= 400", "#123456", 30)
        preview = services.preview_ladder(
            db.session, services.draft_ladder(db.session, None, values), AS_OF)
        assert {(mv.to_tier, mv.up) for mv in preview.movers} == {("Mentor", True)}
        assert db.session.scalar(select(func.count()).select_from(Tier)) == 5


def test_tenure_rule_on_both_backends(app_any):
    with app_any.app_context():
        db.session.execute(delete(Tier))
        make_tier("Veteran", 1, "tenure_days >= 365")
        old = make_member(joined_at=datetime(2025, 11, 26, 23, 30, tzinfo=UTC))
        young = make_member(joined_at=datetime(2025, 11, 27, 0, 30, tzinfo=UTC))
        unknown = make_member(joined_at=None)
        services.compute_tiers(db.session, AS_OF, NOW)
        assert [bool(fresh(m).tier_id) for m in (old, young, unknown)] == [True, False, False]
        assert history(old)[0][3] == "Veteran: tenure_days 365 ≥ 365"


def test_save_and_delete_tiers(app_any):
    with app_any.app_context():
        with pytest.raises(services.TierNameTaken):
            services.save_tier(db.session, None, services.TierValues("expert", 35, "posts >= 1"))
        with pytest.raises(services.TierRankTaken):
            services.save_tier(db.session, None, services.TierValues("Mentor", 30, "posts >= 1"))
        with pytest.raises(services.RuleError):
            services.save_tier(db.session, None, services.TierValues("Mentor", 35, "posts >="))
        mentor = services.save_tier(db.session, None, services.TierValues(
            "Mentor", 35, "answers[90d] >= 100", "#0f766e", 60, "Helps newcomers"))
        member = make_member(tier_id=mentor.id)
        with pytest.raises(services.TierInUse) as info:
            services.delete_tier(db.session, mentor)
        assert info.value.members == 1
        member.tier_id = None
        db.session.flush()
        services.delete_tier(db.session, mentor)
        actions = db.session.scalars(select(AuditEntry.action).order_by(AuditEntry.id)).all()
        assert actions == ["tier.create", "tier.delete"]


def test_changing_weights_recomputes_scores(app_any):
    with app_any.app_context():
        m = make_member(answers=10, accepted_solutions=2, kudos_received=1, score=0)
        add_days(m, {AS_OF: {"answers": 10, "accepted_solutions": 2, "kudos_received": 1}})
        assert services.save_weights(db.session, ScoreWeights(1, 3, 10, 0), AS_OF)
        assert fresh(m).score == 30 + 20
        stats = db.session.get(MemberWindowStats, (m.id, 30))
        assert stats.score == 50
        assert not services.save_weights(db.session, ScoreWeights(1, 3, 10, 0), AS_OF)
