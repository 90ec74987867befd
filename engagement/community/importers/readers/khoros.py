"""Khoros (Lithium) reader: saved responses of Community API v2 LiQL queries.

Users query: `SELECT id, login, email, join_date, last_visit_time, rank.name,
messages.count(*), solutions_authored.count(*), kudos_received.sum(weight) FROM users`
gives lifetime counters (`{"count": N}`, `{"sum": {"weight": N}}`) as reported totals.
Messages query: `SELECT id, author.id, post_time, depth, is_solution, kudos.sum(weight)
FROM messages` gives dated activity: every message is a post, depth > 0 a reply
(answer), is_solution an accepted solution, and its kudos count on the post's UTC day.
The envelope is `{"status": "success", "data": {"type": ..., "items": [...]}}`; an
`error` envelope stops the import with the API's message.
"""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from datetime import date
from pathlib import Path

from ..records import DayRecord, ImportSetupError, MemberRecord, RowError, Skipped
from ..rules import clean_member, clean_text, parse_timestamp
from .base import ByteCounter, Plan, expand
from .jsonfiles import load_json


def _envelope(path: Path, data) -> tuple[str, list]:
    if not isinstance(data, dict) or "status" not in data:
        raise ImportSetupError("not a Khoros API v2 response (no status envelope)", file=path.name)
    if data["status"] != "success":
        message = data.get("message") or (data.get("data") or {}).get("message") or "no message"
        raise ImportSetupError(f"the saved response is an API error (status {data['status']!r}, "
                               f"http_code {data.get('http_code', '?')}): {message}",
                               file=path.name)
    body = data.get("data")
    if not isinstance(body, dict) or body.get("type") not in ("users", "messages") \
            or not isinstance(body.get("items"), list):
        raise ImportSetupError("expected the result of a LiQL query on users or messages "
                               "(data.type 'users' or 'messages' with items)", file=path.name)
    return body["type"], body["items"]


def plan(paths: list[Path]) -> Plan:
    files = expand(paths, lambda p: p.suffix.lower() == ".json")
    if not files:
        raise ImportSetupError("no .json files found in " + ", ".join(str(p) for p in paths))
    roles = {path: _envelope(path, load_json(path))[0] for path in files}
    ordered = tuple(sorted(files, key=lambda p: (roles[p] != "users", str(p))))
    return Plan(files=ordered, total_bytes=sum(p.stat().st_size for p in files), roles=roles)


def _number(value, *path) -> int | None:
    """`{"count": 3}` / `{"sum": {"weight": 7}}` / a plain number → int; missing → None."""
    for key in path:
        if not isinstance(value, dict):
            break
        value = value.get(key)
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value)
    return None


def read(plan: Plan, counter: ByteCounter) -> Iterator:
    days: dict[tuple[str, date], list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    seen_messages: set[str] = set()
    authors: dict[str, str] = {}
    members: dict[str, MemberRecord] = {}
    errors: list = []
    skipped = 0
    for path in plan.files:
        kind, items = _envelope(path, load_json(path, counter))
        for n, item in enumerate(items, 1):
            where = f"item {n}"
            if not isinstance(item, dict) or item.get("id") in (None, ""):
                errors.append(RowError(path.name, None, f"{where}: no id"))
                continue
            if kind == "users":
                try:
                    record = _member(item)
                    record = record and clean_member(record)
                except ValueError as exc:
                    errors.append(RowError(path.name, None, f"{where} (user {item['id']}): {exc}"))
                    continue
                if record is None:
                    skipped += 1
                    continue
                members[record.external_id] = record
            else:
                message_id = str(item["id"])
                if message_id in seen_messages:
                    continue
                author = item.get("author") or {}
                author_id = author.get("id") if isinstance(author, dict) else None
                if author_id in (None, ""):
                    errors.append(RowError(path.name, None, f"{where} (message {message_id}): "
                                           "no author.id"))
                    continue
                try:
                    when = parse_timestamp(item.get("post_time"), "post_time")
                    if when is None:
                        raise ValueError("post_time is missing")
                except ValueError as exc:
                    errors.append(RowError(path.name, None,
                                           f"{where} (message {message_id}): {exc}"))
                    continue
                seen_messages.add(message_id)
                author_id = str(author_id)
                authors.setdefault(author_id, clean_text(author.get("login"), 255) or "")
                counts = days[(author_id, when.date())]
                counts[0] += 1
                if (_number(item, "depth") or 0) > 0:
                    counts[1] += 1
                if item.get("is_solution") in (True, "true"):
                    counts[2] += 1
                counts[3] += max(0, _number(item, "kudos", "sum", "weight") or 0)
    yield from errors
    if skipped:
        for _ in range(skipped):
            yield Skipped("users", None, "anonymous or system account")
    yield from members.values()
    for author_id, login in authors.items():
        if author_id not in members:  # the messages name an author the users pages lack
            yield MemberRecord(external_id=author_id, display_name=login or f"user {author_id}")
    for (author_id, day), (p, a, s, k) in days.items():
        yield DayRecord(author_id, day, p, a, s, k, "messages", None)


def _member(item: dict) -> MemberRecord | None:
    external_id = str(item["id"]).strip()
    if external_id.startswith("-") or external_id == "0":
        return None  # Khoros' anonymous user (-1) is not a person
    if len(external_id) > 64:
        raise ValueError("id is longer than 64 characters")
    login = clean_text(item.get("login"), 255)
    return MemberRecord(
        external_id=external_id, display_name=login or f"user {external_id}",
        email=clean_text(item.get("email"), 255),
        joined_at=parse_timestamp(item.get("join_date"), "join_date"),
        last_active=parse_timestamp(item.get("last_visit_time"), "last_visit_time"),
        reported_posts=_number(item, "messages", "count"),
        reported_accepted_solutions=_number(item, "solutions_authored", "count"),
        reported_kudos_received=_number(item, "kudos_received", "sum", "weight"),
    )
