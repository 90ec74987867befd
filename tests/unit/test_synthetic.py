"""The synthetic community: SPEC §5 csv format, deterministic, heavy-tailed."""
from __future__ import annotations

import csv
import hashlib
from collections import Counter
from datetime import date, timedelta

import pytest

from engagement.community.synthetic import (
    CONTRIBUTION_FIELDS,
    MEMBER_FIELDS,
    POWER_USER_ANSWERS,
    write_synthetic_csv,
)

TODAY = date(2026, 6, 1)


def _digest(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _read(path) -> list[dict]:
    with path.open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


@pytest.fixture(scope="module")
def community(tmp_path_factory):
    folder = tmp_path_factory.mktemp("synthetic")
    members_csv, contributions_csv = write_synthetic_csv(folder, 5000, 40_000, seed=7,
                                                         today=TODAY)
    return folder, _read(members_csv), _read(contributions_csv)


def test_headers_follow_the_csv_import_format(community):
    folder, _members, _days = community
    assert (folder / "members.csv").read_text(encoding="utf-8").splitlines()[0] == \
        ",".join(MEMBER_FIELDS)
    assert (folder / "contributions.csv").read_text(encoding="utf-8").splitlines()[0] == \
        ",".join(CONTRIBUTION_FIELDS)


def test_sizes_and_unique_member_days(community):
    _folder, members, days = community
    assert len(members) == 5000
    assert len({m["external_id"] for m in members}) == 5000
    assert len({m["email"] for m in members if m["email"]}) == sum(1 for m in members
                                                                    if m["email"])
    assert len(days) == 40_000
    assert len({(d["external_id"], d["day"]) for d in days}) == 40_000
    known = {m["external_id"] for m in members}
    assert {d["external_id"] for d in days} <= known


def test_values_are_consistent(community):
    _folder, members, days = community
    oldest = TODAY - timedelta(days=3 * 365)
    for d in days:
        day = date.fromisoformat(d["day"])
        posts, answers, accepted = int(d["posts"]), int(d["answers"]), int(d["accepted_solutions"])
        assert oldest <= day <= TODAY
        assert posts >= answers >= accepted >= 0 and posts >= 1
        assert int(d["kudos_received"]) >= 0
    first_day = {}
    for d in days:
        first_day[d["external_id"]] = min(first_day.get(d["external_id"], d["day"]), d["day"])
    for m in members:
        joined = m["joined_at"]
        assert joined.endswith("Z") and "T" in joined
        if m["external_id"] in first_day:
            assert joined[:10] <= first_day[m["external_id"]]  # joined before first post
    locales = Counter(m["locale"] for m in members)
    assert locales.most_common(1)[0][0] == "de" and locales["de"] > 0.7 * len(members)
    assert len({m["region"] for m in members}) >= 10


def test_activity_is_heavy_tailed(community):
    _folder, members, days = community
    answers = Counter()
    active_days = Counter()
    for d in days:
        answers[d["external_id"]] += int(d["answers"])
        active_days[d["external_id"]] += 1
    lifetime = sorted(answers.values(), reverse=True)
    power_users = [a for a in lifetime if a > POWER_USER_ANSWERS]
    assert 5 <= len(power_users) <= 60  # a few power users (5000 members -> 10)
    # Most members have a handful of active days, many have none.
    inactive = len(members) - len(active_days)
    assert inactive > 0.3 * len(members)
    median_days = sorted(active_days.values())[len(active_days) // 2]
    assert median_days <= 10
    # The top 1 % of members write more than half of all answers.
    top = lifetime[: len(members) // 100]
    assert sum(top) > 0.5 * sum(lifetime)
    # The most active were active in the last days (recent activity at the top).
    leader = answers.most_common(1)[0][0]
    latest = max(d["day"] for d in days if d["external_id"] == leader)
    assert date.fromisoformat(latest) >= TODAY - timedelta(days=3)


def test_deterministic_for_a_seed(tmp_path):
    a = write_synthetic_csv(tmp_path / "a", 800, 6000, seed=3, today=TODAY)
    b = write_synthetic_csv(tmp_path / "b", 800, 6000, seed=3, today=TODAY)
    c = write_synthetic_csv(tmp_path / "c", 800, 6000, seed=4, today=TODAY)
    assert [_digest(p) for p in a] == [_digest(p) for p in b]
    assert [_digest(p) for p in a] != [_digest(p) for p in c]


def test_more_rows_than_possible_days_are_capped_and_tiny_sizes_work(tmp_path):
    _m, contributions_csv = write_synthetic_csv(tmp_path, 3, 10_000, seed=1, today=TODAY)
    rows = _read(contributions_csv)
    assert len({(r["external_id"], r["day"]) for r in rows}) == len(rows) <= 3 * 1000
    _m, empty = write_synthetic_csv(tmp_path / "none", 5, 0, seed=1, today=TODAY)
    assert _read(empty) == []


def test_bad_sizes_are_rejected(tmp_path):
    with pytest.raises(ValueError):
        write_synthetic_csv(tmp_path, 0, 10)
    with pytest.raises(ValueError):
        write_synthetic_csv(tmp_path, 10, -1)
