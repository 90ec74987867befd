"""Segment page benchmarks (SPEC §9: "segment pages answer in < 100 ms at that size").

Typical saved segments on the full-size community; each line is the manager's GET of the
saved segment's editor, which runs the preview (count + first 50 members) like the page
does after every change of the conditions.
"""
from __future__ import annotations

from datetime import UTC, datetime

from bench import Context, Result, benchmark
from bench.community import PAGE_MS, _median_ms
from bench.setup import app_for

SEGMENT_REQUESTS = 10
REGION = "Bayern"  # the synthetic data's second-largest region (engagement/community/synthetic.py)


def _segments(expert_rank: int) -> list[tuple[str, dict]]:
    """(line name, criteria as JSON) of the measured segments."""
    return [
        ("segment page (tier >= Expert)", {"min_tier_rank": expert_rank}),
        (f"segment page (>= Expert, {REGION})",
         {"min_tier_rank": expert_rank, "regions": [REGION]}),
        ("segment page (365-d answers >= 50)",
         {"metrics": [{"metric": "answers", "window": "365", "min": 50}]}),
        ("segment page (de + has e-mail)", {"locales": ["de"], "has_email": True}),
    ]


@benchmark(40, "segments")
def bench_segments(ctx: Context) -> list[Result]:
    db_path = ctx.shared["community_db"]
    baseline = ctx.shared["page_baseline_ms"]
    app = app_for(db_path, ctx.work_dir)
    now = datetime.now(UTC)
    with app.app_context():
        from sqlalchemy import select

        from engagement.accounts.models import User
        from engagement.community.models import Tier
        from engagement.community.segments.rules import criteria_from_dict
        from engagement.community.segments.services import save_segment
        from engagement.extensions import db

        expert_rank = db.session.scalar(select(Tier.rank).where(Tier.name == "Expert"))
        if expert_rank is None:
            raise RuntimeError("the default tier 'Expert' is missing from the bench database")
        manager = User(email="bench-segments@bench.example", name="Bench segments",
                       role="manager", active=True)
        db.session.add(manager)
        db.session.flush()
        saved = []
        for name, criteria in _segments(expert_rank):
            segment = save_segment(db.session, name=f"Bench: {name}", description="",
                                   criteria=criteria_from_dict(criteria),
                                   actor_user_id=manager.id, actor="cli:bench", now=now)
            saved.append((name, segment.id, segment.member_count))
        db.session.commit()
        manager_id = manager.id

    client = app.test_client()
    with client.session_transaction() as sess:
        sess["_user_id"] = str(manager_id)
        sess["_fresh"] = True
    results = []
    for name, segment_id, count in saved:
        statuses = set()

        def get(url=f"/segments/{segment_id}", statuses=statuses):
            statuses.add(client.get(url).status_code)

        ms = _median_ms(get, SEGMENT_REQUESTS)
        ok = statuses == {200}
        label = name if ok else f"{name} (HTTP {','.join(map(str, sorted(statuses)))})"
        results.append(Result(label, ms, "ms", f"< {PAGE_MS:g} ms", ok and ms < PAGE_MS,
                              baseline, "sqlite3 top-50 query", note=f"{count:,} members"))
    with app.app_context():
        db.engine.dispose()
    return results
