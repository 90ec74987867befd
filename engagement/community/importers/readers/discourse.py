"""Discourse reader: saved JSON pages of the Discourse API, recognised by their content.

- `/directory_items.json?period=all` pages: lifetime counters (post_count, likes_received,
  solutions, replies = post_count - topic_count) as the members' reported totals;
- `/admin/users/list` (a JSON list of users) and `/u/{name}.json` (`{"user": …}`): e-mail,
  join date, last seen, locale;
- `/user_actions.json?filter=4,5`, `/posts.json` and `/topics/created-by/…` pages: dated
  topics (post) and replies (post + answer) per UTC day.

A post seen in several pages counts once (keyed by topic and post number). Everything is
read before the first record is yielded, so pages may come in any order and a damaged
page stops the import before anything is written. Badge pages are recognised and unused.
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

NEW_TOPIC, REPLY = 4, 5


def classify(data) -> str | None:
    """Which API response a parsed page is (None: not one this importer knows)."""
    if isinstance(data, list):
        if data and all(isinstance(u, dict) and "username" in u and "id" in u for u in data):
            return "user_list"
        return None
    if not isinstance(data, dict):
        return None
    if isinstance(data.get("user"), dict):  # /u/{name}.json also carries user_badges
        return "user"
    for key, kind in (("directory_items", "directory"), ("user_actions", "user_actions"),
                      ("latest_posts", "posts"), ("topic_list", "topics"),
                      ("user_badges", "badges")):
        if key in data:
            return kind
    return None


def plan(paths: list[Path]) -> Plan:
    files = expand(paths, lambda p: p.suffix.lower() == ".json")
    if not files:
        raise ImportSetupError("no .json files found in " + ", ".join(str(p) for p in paths))
    roles, notes = {}, []
    for path in files:
        kind = classify(load_json(path))
        if kind is None:
            raise ImportSetupError(
                "not a Discourse API response this importer knows (expected directory_items, "
                "user_actions, latest_posts, topic_list, a user list or a user)", file=path.name)
        roles[path] = kind
        if kind == "badges":
            notes.append(f"{path.name}: not used (badges are awards, not contributions)")
    used = tuple(p for p in files if roles[p] != "badges")
    return Plan(files=used, total_bytes=sum(p.stat().st_size for p in used), roles=roles,
                notes=tuple(notes))


class _Users:
    """Member fields merged across pages: a value from one page fills another's gap."""

    FIELDS = MemberRecord._fields

    def __init__(self):
        self.data: dict[str, dict] = {}

    def add(self, external_id, **values) -> None:
        current = self.data.setdefault(external_id, {})
        for key, value in values.items():
            if value is not None and current.get(key) is None:
                current[key] = value


def read(plan: Plan, counter: ByteCounter) -> Iterator:
    users = _Users()
    seen_posts: set[tuple] = set()
    days: dict[tuple[str, date], list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    errors: list = []
    skipped: dict[str, tuple[str, str]] = {}

    def activity(file: str, user_id, username, name, created_at, key, is_reply) -> None:
        external_id = str(user_id)
        if user_id is None or int(user_id) <= 0:
            skipped[external_id] = (file, "system account")
            return
        if key in seen_posts:
            return
        try:
            when = parse_timestamp(created_at, "created_at")
        except ValueError as exc:
            errors.append(RowError(file, None, f"post {key}: {exc}"))
            return
        if when is None:
            errors.append(RowError(file, None, f"post {key}: no created_at"))
            return
        seen_posts.add(key)
        users.add(external_id, display_name=clean_text(name, 255) or clean_text(username, 255))
        counts = days[(external_id, when.date())]
        counts[0] += 1
        if is_reply:
            counts[1] += 1

    # Profile pages first: their names win over the usernames that activity pages show.
    order = {"user": 0, "user_list": 0, "directory": 1}
    for path in sorted(plan.files, key=lambda p: order.get(plan.roles[p], 2)):
        kind, data, file = plan.roles[path], load_json(path, counter), path.name
        try:
            if kind == "directory":
                for item in data["directory_items"]:
                    _directory_item(file, item, users, skipped)
            elif kind == "user_list":
                for u in data:
                    _user(file, u, users, skipped)
            elif kind == "user":
                _user(file, data["user"], users, skipped)
            elif kind == "user_actions":
                for a in data["user_actions"]:
                    if a.get("action_type") not in (NEW_TOPIC, REPLY):
                        continue
                    number = 1 if a["action_type"] == NEW_TOPIC else a.get("post_number")
                    activity(file, a.get("acting_user_id", a.get("user_id")),
                             a.get("acting_username") or a.get("username"),
                             a.get("acting_name") or a.get("name"), a.get("created_at"),
                             (a.get("topic_id"), number), a["action_type"] == REPLY)
            elif kind == "posts":
                for p in data["latest_posts"]:
                    activity(file, p.get("user_id"), p.get("username"), p.get("name"),
                             p.get("created_at"), (p.get("topic_id"), p.get("post_number")),
                             (p.get("post_number") or 1) > 1)
            elif kind == "topics":
                names = {u.get("id"): u for u in data.get("users", [])}
                for t in data["topic_list"].get("topics", []):
                    op = next((p.get("user_id") for p in t.get("posters", [])
                               if "Original Poster" in (p.get("description") or "")), None)
                    who = names.get(op, {})
                    activity(file, op, who.get("username"), who.get("name"),
                             t.get("created_at"), (t.get("id"), 1), False)
        except (KeyError, TypeError, AttributeError, ValueError) as exc:
            raise ImportSetupError(f"unexpected structure ({type(exc).__name__}: {exc})",
                                   file=file) from None

    yield from errors
    for file, reason in skipped.values():
        yield Skipped(file, None, reason)
    for external_id, values in users.data.items():
        values.setdefault("display_name", f"user {external_id}")
        try:
            yield clean_member(MemberRecord(external_id=external_id, **values))
        except ValueError as exc:  # gathered from several pages: named by the user
            yield RowError("user pages", None, f"user {external_id}: {exc}")
    for (external_id, day), (p, a, s, k) in days.items():
        yield DayRecord(external_id, day, p, a, s, k, "activity pages", None)


def _skip(user_id, file: str, skipped: dict) -> bool:
    if user_id is None or int(user_id) <= 0:  # -1 system, -2 discobot: not people
        skipped[str(user_id)] = (file, "system account")
        return True
    return False


def _user(file: str, u: dict, users: _Users, skipped: dict) -> None:
    if _skip(u.get("id"), file, skipped):
        return
    users.add(str(u["id"]),
              display_name=clean_text(u.get("name"), 255) or clean_text(u.get("username"), 255),
              email=clean_text(u.get("email"), 255),
              joined_at=_when(u.get("created_at")),
              last_active=_when(u.get("last_seen_at")),
              locale=clean_text(u.get("locale"), 16),
              reported_posts=u.get("post_count"))


def _directory_item(file: str, item: dict, users: _Users, skipped: dict) -> None:
    user = item.get("user") or {}
    user_id = user.get("id", item.get("id"))
    if _skip(user_id, file, skipped):
        return
    posts, topics = item.get("post_count"), item.get("topic_count")
    replies = max(0, posts - (topics or 0)) if isinstance(posts, int) else None
    users.add(str(user_id),
              display_name=clean_text(user.get("name"), 255)
              or clean_text(user.get("username"), 255),
              reported_posts=posts, reported_answers=replies,
              reported_accepted_solutions=item.get("solutions"),
              reported_kudos_received=item.get("likes_received"))


def _when(text):
    try:
        return parse_timestamp(text, "date")
    except ValueError:
        return None
