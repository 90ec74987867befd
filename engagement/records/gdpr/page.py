"""The member's data download as a readable page: one section per kind of data.

The page shows the export (gdpr.export_member) itself, so it holds what the JSON holds:
known tables get chosen, labelled fields; a table added later is shown with all its
fields under its own name instead of being left out.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from flask_babel import lazy_gettext as _l

from ...formatting import dt

# (export key, title, [(field, label)]); a field may name a readable key added by
# gdpr/readable.py ("event", "tier", "item", "agreement").
KNOWN = [
    ("users", _l("Logins"), [("email", _l("E-mail")), ("role", _l("Role")),
                             ("active", _l("Active")), ("locale", _l("Language")),
                             ("last_login_at", _l("Last sign-in"))]),
    ("magic_links", _l("Sign-in links"), [("email", _l("E-mail")),
                                          ("created_at", _l("Requested")),
                                          ("expires_at", _l("Expires")),
                                          ("used_at", _l("Used")), ("ip", _l("IP address"))]),
    ("invitations", _l("Invitations and answers"), [
        ("event", _l("Event")), ("status", _l("Status")), ("responded_at", _l("Answered")),
        ("rsvp_source", _l("Answered by")), ("plus_one", _l("Plus-one")),
        ("answers", _l("Answers")), ("waitlist_position", _l("Waiting-list position")),
        ("checked_in_at", _l("Checked in"))]),
    ("invitation_consents", _l("Event consents"), [
        ("event", _l("Event")), ("key", _l("Consent")), ("text", _l("Text")),
        ("version", _l("Version")), ("given", _l("Given")), ("withdrawn", _l("Withdrawn")),
        ("at", _l("When"))]),
    ("agreement_acceptances", _l("Agreements"), [
        ("agreement", _l("Agreement")), ("accepted_at", _l("Accepted")),
        ("source", _l("How")), ("withdrawn_at", _l("Withdrawn"))]),
    ("reward_grants", _l("Rewards"), [
        ("item", _l("Item")), ("value", _l("Value")), ("status", _l("Status")),
        ("reason", _l("Reason")), ("event", _l("Event")), ("year", _l("Year")),
        ("granted_at", _l("Granted")), ("fulfilment", _l("Fulfilment")),
        ("fulfilment_note", _l("Shipping note"))]),
    ("event_roles", _l("Roles at events"), [("event", _l("Event")), ("role", _l("Role")),
                                            ("hours", _l("Hours")), ("note", _l("Note"))]),
    ("record_signoffs", _l("Volunteer record sign-offs"), [
        ("year", _l("Year")), ("signed_at", _l("Signed")),
        ("signed_by_user_id", _l("Signed by"))]),
    ("tier_history", _l("Tier history"), [
        ("at", _l("When")), ("from_tier", _l("From")), ("to_tier", _l("To")),
        ("kind", _l("Kind")), ("reason", _l("Reason")), ("actor", _l("By"))]),
    ("calendar_feeds", _l("Calendar feed"), [("created_at", _l("Created")),
                                             ("revoked_at", _l("Turned off"))]),
    ("mail_received", _l("Mail we sent you"), [
        ("created_at", _l("Queued")), ("sent_at", _l("Sent")), ("subject", _l("Subject")),
        ("kind", _l("Kind")), ("status", _l("Status"))]),
    ("audit_entries", _l("Change log entries about you"), [
        ("at", _l("When")), ("action", _l("What")), ("event", _l("Event")),
        ("actor", _l("By")), ("before", _l("Before")), ("after", _l("After"))]),
]
PROFILE = [("display_name", _l("Name")), ("email", _l("E-mail")), ("tier", _l("Tier")),
           ("region", _l("Region")), ("locale", _l("Language")),
           ("joined_at", _l("Joined")), ("source", _l("Imported from")),
           ("external_id", _l("Platform id")), ("mail_opt_out", _l("No mailings"))]
# Top-level keys that are not sections of their own.
_NOT_SECTIONS = frozenset({"exported_at", "member_id", "member", "contribution_days"})
_HIDDEN = frozenset({"id", "member_id", "user_id", "invitation_id", "event_id", "tier_id",
                     "from_tier_id", "to_tier_id", "item_id", "agreement_id"})


@dataclass
class Section:
    key: str
    title: Any
    rows: list[list[tuple[Any, Any]]] = field(default_factory=list)


def _shown(name: str, value: Any) -> Any:
    """Times as the reader's clock shows them (the JSON keeps ISO 8601)."""
    if isinstance(value, str) and (name == "at" or name.endswith("_at")):
        try:
            return dt(datetime.fromisoformat(value), "d MMM y, HH:mm")
        except ValueError:
            return value
    return value


def _pairs(row: dict[str, Any], fields: list[tuple[str, Any]]) -> list[tuple[Any, Any]]:
    return [(label, _shown(name, row[name])) for name, label in fields
            if name in row and row[name] not in (None, "", [], {})]


def contributions_by_month(days: list[dict[str, Any]]) -> list[list[tuple[Any, Any]]]:
    """Daily contribution rows summed per month (the JSON keeps every day)."""
    months: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for d in days:
        month = str(d.get("day", ""))[:7]
        for k in ("posts", "answers", "accepted_solutions", "kudos_received"):
            months[month][k] += int(d.get(k) or 0)
    return [[(_l("Month"), m), (_l("Posts"), v["posts"]), (_l("Answers"), v["answers"]),
             (_l("Accepted solutions"), v["accepted_solutions"]),
             (_l("Kudos"), v["kudos_received"])] for m, v in sorted(months.items(),
                                                                   reverse=True)]


def sections(data: dict[str, Any]) -> list[Section]:
    """The page's sections in reading order; unknown tables last, with all their fields."""
    out = [Section("member", _l("Profile"), [_pairs(data.get("member", {}), PROFILE)])]
    if data.get("contribution_days"):
        out.append(Section("contribution_days", _l("Contributions per month"),
                           contributions_by_month(data["contribution_days"])))
    known = set()
    for key, title, fields in KNOWN:
        known.add(key)
        out.append(Section(key, title, [_pairs(r, fields) for r in data.get(key, [])]))
    for key in sorted(k for k in data if k not in known and k not in _NOT_SECTIONS):
        rows = data[key] if isinstance(data[key], list) else [data[key]]
        out.append(Section(key, key.replace("_", " ").capitalize(), [
            [(k, _shown(k, v)) for k, v in r.items() if k not in _HIDDEN and v not in (None, "")]
            for r in rows if isinstance(r, dict)]))
    return out
