"""Stack Exchange data-dump reader: Users.xml, Posts.xml, optional Votes.xml (Badges.xml unused).

Counting rules: posts = every post a user owns; answers = posts with PostTypeId 2;
accepted solutions = answers whose Id is some question's AcceptedAnswerId; kudos =
up-votes (VoteTypeId 2 in Votes.xml) on the user's posts by vote day, or without
Votes.xml the positive Score of each post on its creation day. All days are UTC.

Every file is parsed completely (Posts.xml twice: accepted ids first) before the first
record is yielded, so a damaged file stops the import before anything is written.
"""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from datetime import date
from pathlib import Path

from ..records import DayRecord, ImportSetupError, MemberRecord, RowError, Skipped
from ..rules import clean_member, clean_text, parse_timestamp
from .base import ByteCounter, Plan, expand
from .xmlrows import rows

KNOWN = {"users.xml": "users", "posts.xml": "posts", "votes.xml": "votes", "badges.xml": "badges"}
UPVOTE = "2"
ANSWER = "2"


def plan(paths: list[Path]) -> Plan:
    """Pick the dump's files; Users.xml and Posts.xml are required."""
    files = expand(paths, lambda p: p.name.lower() in KNOWN)
    roles: dict[Path, str] = {}
    for path in files:
        role = KNOWN.get(path.name.lower())
        if role is None:
            raise ImportSetupError("not a Stack Exchange dump file (expected Users.xml, "
                                   "Posts.xml, Votes.xml or Badges.xml)", file=path.name)
        if role in roles.values():
            raise ImportSetupError(f"{path.name} given twice", file=path.name)
        roles[path] = role
    for needed in ("users", "posts"):
        if needed not in roles.values():
            raise ImportSetupError(f"{needed.title()}.xml is missing (a Stack Exchange import "
                                   "needs Users.xml and Posts.xml)")
    passes = {"users": 2, "posts": 2, "votes": 1, "badges": 0}
    total = sum(p.stat().st_size * passes[r] for p, r in roles.items())
    notes = tuple(f"{p.name}: not used (badges are awards, not contributions)"
                  for p, r in roles.items() if r == "badges")
    used = tuple(p for p, r in roles.items() if r != "badges")
    return Plan(files=used, total_bytes=total, roles=roles, notes=notes)


def read(plan: Plan, counter: ByteCounter) -> Iterator:
    by_role = {r: p for p, r in plan.roles.items()}
    users, posts, votes = by_role["users"], by_role["posts"], by_role.get("votes")

    for _ in rows(users, counter):  # proves Users.xml is well-formed before any write
        pass
    accepted: set[str] = set()
    for _line, row in rows(posts, counter):
        answer_id = row.get("AcceptedAnswerId")
        if answer_id:
            accepted.add(answer_id)

    errors: list[RowError] = []
    days: dict[tuple[str, date], list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    owner_of: dict[str, str] = {}
    for line, row in rows(posts, counter):
        owner = row.get("OwnerUserId")
        if not owner or owner.startswith("-"):
            continue  # deleted users and the system account own no countable work
        try:
            day = date.fromisoformat(row["CreationDate"][:10])
        except (KeyError, ValueError):
            errors.append(RowError(posts.name, line,
                                   f"post Id={row.get('Id')}: missing or bad CreationDate"))
            continue
        counts = days[(owner, day)]
        counts[0] += 1
        if row.get("PostTypeId") == ANSWER:
            counts[1] += 1
            if row.get("Id") in accepted:
                counts[2] += 1
        if votes is not None:
            owner_of[row.get("Id", "")] = owner
        else:
            try:
                counts[3] += max(0, int(row.get("Score") or 0))
            except ValueError:
                errors.append(RowError(posts.name, line, f"post Id={row.get('Id')}: bad Score"))
    if votes is not None:
        for line, row in rows(votes, counter):
            if row.get("VoteTypeId") != UPVOTE:
                continue
            owner = owner_of.get(row.get("PostId", ""))
            if owner is None:
                continue  # a vote on a deleted post or one by the system account
            try:
                day = date.fromisoformat(row["CreationDate"][:10])
            except (KeyError, ValueError):
                errors.append(RowError(votes.name, line,
                                       f"vote Id={row.get('Id')}: missing or bad CreationDate"))
                continue
            days[(owner, day)][3] += 1
        owner_of.clear()

    yield from errors
    for line, row in rows(users, counter):
        external_id = row.get("Id", "")
        if external_id.startswith("-"):
            yield Skipped(users.name, line, "system account")
            continue
        try:
            yield clean_member(_member(row))
        except ValueError as exc:
            yield RowError(users.name, line, f"user Id={external_id or '?'}: {exc}")
    for (owner, day), (p, a, s, k) in days.items():
        yield DayRecord(owner, day, p, a, s, k, posts.name, None)


def _member(row: dict) -> MemberRecord:
    external_id = row.get("Id", "").strip()
    if not external_id:
        raise ValueError("no Id")
    return MemberRecord(
        external_id=external_id,
        display_name=clean_text(row.get("DisplayName"), 255) or f"user{external_id}",
        joined_at=parse_timestamp(row.get("CreationDate"), "CreationDate"),
        last_active=parse_timestamp(row.get("LastAccessDate"), "LastAccessDate"),
        region=clean_text(row.get("Location"), 64),
    )
