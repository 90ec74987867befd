"""What community publishes for other features: tier look-ups, segment resolution, names."""
from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from engagement.community.members import services as members
from engagement.community.segments import services as segments
from engagement.community.segments.rules import InvalidCriteria, SegmentCriteria
from engagement.community.tiers import services as tiers
from engagement.extensions import db
from engagement.timeutil import local_year, year_bounds_utc
from tests.factories import add_days, make_member, make_tier


@pytest.fixture
def ladder(app):
    with app.app_context():
        low = make_tier("PubLow", 201, "answers >= 1")
        high = make_tier("PubHigh", 203, "answers >= 100")
        ids = {"low": low.id, "high": high.id,
               "ann": make_member(display_name="Ann", tier_id=high.id).id,
               "ben": make_member(display_name="Ben", tier_id=low.id,
                                  tier_override_id=high.id).id,
               "cy": make_member(display_name="Cy", tier_id=low.id).id,
               "dan": make_member(display_name="Dan").id}
        db.session.commit()
        yield ids


def test_tier_by_name_ignores_case_and_says_none_for_unknown(ladder):
    assert tiers.tier_by_name(db.session, "publow").id == ladder["low"]
    assert tiers.tier_by_name(db.session, " PubHigh ").id == ladder["high"]
    assert tiers.tier_by_name(db.session, "Nope") is None
    names = tiers.tier_names(db.session)
    assert names.index("PubLow") < names.index("PubHigh")  # lowest rank first
    assert tiers.tier_by_id(db.session, ladder["low"]).name == "PubLow"


def test_tier_members_and_a_members_rank(ladder):
    ids = set(db.session.scalars(tiers.tier_member_ids(ladder["low"])))
    assert ids == {ladder["ben"], ladder["cy"]}
    assert tiers.member_tier_rank(db.session, ladder["ben"]) == 203  # the override applies
    assert tiers.member_tier_rank(db.session, ladder["cy"]) == 201
    assert tiers.member_tier_rank(db.session, ladder["dan"]) is None


def test_resolve_segment_from_criteria_a_mapping_or_a_saved_segment(ladder):
    def ids(ref):
        return set(db.session.scalars(segments.resolve_segment(db.session, ref)))

    assert ids(SegmentCriteria(tiers=("PubLow",))) == {ladder["ben"], ladder["cy"]}
    assert ids({"min_tier": "pubhigh"}) == {ladder["ann"]}
    saved = segments.save_segment(db.session, name="Pub high", description="",
                                  criteria=SegmentCriteria(tiers=("PubHigh",)))
    assert ids(saved) == ids(saved.id) == {ladder["ann"]}
    assert (saved.id, "Pub high") in segments.saved_segments(db.session)
    assert segments.segment_by_name(db.session, "Pub high") is saved
    assert segments.segment_by_name(db.session, "pub high") is None


@pytest.mark.parametrize("ref, message", [
    ({"min_tier": "Nope"}, "unknown tier 'Nope'"),
    (SegmentCriteria(tiers=("Nope",)), "unknown tier: Nope"),
    (987654, "no saved segment with id 987654"),
    ({"extra": {"no_such_criterion": 1}}, "no_such_criterion"),
    ("PubLow", "give a saved segment or criteria"),
])
def test_resolve_segment_refuses_what_would_select_the_wrong_members(ladder, ref, message):
    with pytest.raises(InvalidCriteria, match=message):
        segments.resolve_segment(db.session, ref)


def test_display_names_and_contributions(ladder):
    assert members.display_names(db.session, [ladder["ann"], ladder["cy"], 10**9]) == {
        ladder["ann"]: "Ann", ladder["cy"]: "Cy"}
    assert members.display_names(db.session, []) == {}
    assert members.get_member(db.session, ladder["dan"]).display_name == "Dan"
    ann = members.get_member(db.session, ladder["ann"])
    add_days(ann, {date(2025, 12, 31): {"answers": 9}, date(2026, 1, 1): {"answers": 2},
                   date(2026, 12, 31): {"answers": 3, "accepted_solutions": 1},
                   date(2027, 1, 1): {"answers": 50}})
    year = members.contributions_by_member(db.session, date(2026, 1, 1), date(2027, 1, 1))
    assert year[ladder["ann"]] == (5, 1)
    assert members.contributions_by_member(db.session, date(2026, 1, 1), date(2027, 1, 1),
                                           [ladder["cy"]]) == {}


def test_year_in_the_programmes_zone():
    start, end = year_bounds_utc(2026, "Europe/Berlin")
    assert start == datetime(2025, 12, 31, 23, 0, tzinfo=UTC)
    assert end == datetime(2026, 12, 31, 23, 0, tzinfo=UTC)
    # 23:30 UTC on New Year's Eve is already the new year in Berlin.
    assert local_year("Europe/Berlin", now=datetime(2026, 12, 31, 23, 30, tzinfo=UTC)) == 2027
    assert local_year("UTC", now=datetime(2026, 12, 31, 23, 30, tzinfo=UTC)) == 2026
