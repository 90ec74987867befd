"""GDPR use cases: a member's data export (Art. 15/20) and erasure (Art. 17).

Export and erasure find the member's rows through the schema itself (every table with a
foreign key to members.id or users.id), so tables added later (e.g. reward grants) are
exported without changes here and are never silently deleted by an erasure.

Erasure policy (documented in the report and the confirm page):
- the members row is kept as a pseudonym ("Erased member #id") so aggregates (contribution
  days, window stats, tier history) and records the law requires us to keep (tax-relevant
  reward grants) stay consistent; every personal field on it is cleared;
- external_id becomes "erased-" + a keyed hash of (source, external_id): the unique key
  stays, and `is_erased()` lets an importer recognise and skip the same platform user
  instead of silently recreating them;
- quoted names/addresses in import issue reasons are replaced by the pseudonym;
- the linked login is deactivated and its e-mail/name replaced; magic links, calendar
  feeds, login attempts and outbox mail to the member's address are deleted;
- invitations are kept (attendance numbers) with answers cleared;
- free text in every row of the member's that stays (notes, reasons, acceptance sources,
  consents, snapshots) loses the member's name and addresses (gdpr/text.py);
- the name a § 4 Abs. 7 EStG gift listing needs is kept, restricted (Art. 18) and shown
  to HR only, until the tax retention ends; the purge job then removes it;
- on SQLite the freed pages are zeroed (secure_delete) and the WAL is checkpointed and
  truncated after the commit, so the file holds no copy of the old rows;
- the audit log keeps its entries (the trail is needed, Art. 17(3)(b) and (e)) but their
  content loses the member's name, addresses and personal fields through a logged
  redaction that `audit verify` still accepts (see gdpr/audit.py); the erasure's own
  entry contains no personal data.
"""
from __future__ import annotations

import re
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Table, and_, delete, func, or_, select, update
from sqlalchemy.orm import Session

from ... import audit
from ...accounts.models import LoginAttempt, User
from ...accounts.services import end_sessions
from ...accounts.signin.links import MagicLink
from ...audit import AuditEntry
from ...community.erasure import ERASED_PREFIX, erased_external_id  # noqa: F401 (re-exported)
from ...community.models import ImportIssue, ImportRun, Member
from ...db import checkpoint_after_commit
from ...events.calendar import delegates as calendar_delegates
from ...events.calendar.models import CalendarFeed
from ...events.models import Invitation
from ...events.reissue import reissue_member_links
from ...extensions import db
from ...mail.models import OutboxMessage
from ...timeutil import utcnow
from ..retention import services as retention
from ..retention.rules import Kind, tax_retain_until
from .audit import member_audit_entries, redact_member
from .files import delete_mail_files, mail_file_dir
from .readable import readable
from .staff import hide_staff
from .text import redact_member_rows

try:  # Grants must be in the metadata so export and erasure see them (rewards <- records).
    from ...rewards import models as _rewards  # noqa: F401
except ModuleNotFoundError:  # an installation without the rewards package
    _rewards = None

# Columns never exported: secrets that would let the file's holder act as the member,
# and raw mail bodies (the export lists mail metadata instead).
SECRET_COLUMNS = frozenset({"password_hash", "token", "token_hash", "nonce", "raw", "payload"})
# Tables handled explicitly below (or not personal data of the member).
_EXPLICIT = frozenset({"members", "users", "audit_log", "outbox_messages", "login_attempts",
                       "restricted_recipients"})
TAX_BASIS = "§ 4 Abs. 7 EStG gift listing (GDPR Art. 17(3)(b), Art. 18)"


class NotFound(Exception):
    pass


def is_erased(session: Session, key: str, source: str, external_id: str) -> bool:
    """True when this platform user was erased (importers skip them)."""
    pseudo = erased_external_id(key, source, external_id)
    return session.scalar(
        select(func.count()).select_from(Member)
        .where(Member.source == source, Member.external_id == pseudo)
    ) > 0


def _plain(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, bytes):
        return None
    if hasattr(value, "value"):  # enums
        return value.value
    return value


def _row(table: Table, row: Any) -> dict[str, Any]:
    return {c.name: _plain(row._mapping[c]) for c in table.columns
            if c.name not in SECRET_COLUMNS}


def _referencing(target: str) -> list[tuple[Table, list]]:
    """Every table with a foreign key to `target`.id, with those columns."""
    found = []
    for table in db.metadata.sorted_tables:
        cols = [fk.parent for fk in table.foreign_keys
                if fk.column.table.name == target and fk.column.name == "id"]
        if cols and table.name not in _EXPLICIT:
            found.append((table, cols))
    return found


def export_member(session: Session, member_id: int) -> dict[str, Any]:
    """Everything held about the member, as JSON-ready data (secrets left out)."""
    member = session.get(Member, member_id)
    if member is None:
        raise NotFound(member_id)
    members = db.metadata.tables["members"]
    users = db.metadata.tables["users"]
    data: dict[str, Any] = {
        "member": _row(members, session.execute(
            select(members).where(members.c.id == member_id)).one()),
    }
    user_rows = session.execute(select(users).where(users.c.member_id == member_id)).all()
    data["users"] = [_row(users, r) for r in user_rows]
    user_ids = [r._mapping[users.c.id] for r in user_rows]
    for table, cols in _referencing("members"):
        rows = session.execute(
            select(table).where(or_(*(c == member_id for c in cols)))
            .order_by(*table.primary_key.columns)).all()
        data[table.name] = [_row(table, r) for r in rows]
    if user_ids:
        for table, cols in _referencing("users"):
            # A table can reference both (a sign-in link has a member *or* a user): the
            # rows found by the member id are merged with those found by the login.
            found = data.get(table.name, [])
            seen = {tuple(r.get(c.name) for c in table.primary_key.columns) for r in found}
            rows = session.execute(
                select(table).where(or_(*(c.in_(user_ids) for c in cols)))
                .order_by(*table.primary_key.columns)).all()
            extra = [r for r in (_row(table, r) for r in rows)
                     if tuple(r.get(c.name) for c in table.primary_key.columns) not in seen]
            if found or extra:
                data[table.name] = sorted(
                    found + extra,
                    key=lambda r: tuple(r.get(c.name) or 0 for c in table.primary_key.columns))
    # Consents belong to invitations, not directly to the member.
    consents = db.metadata.tables["invitation_consents"]
    invitation_ids = [r["id"] for r in data.get("invitations", [])]
    data["invitation_consents"] = [
        _row(consents, r) for r in session.execute(
            select(consents).where(consents.c.invitation_id.in_(invitation_ids))
            .order_by(consents.c.id)).all()
    ] if invitation_ids else []
    # The member's mail by reference: their imported address may be somebody else's too.
    mail_ids = member_mail_ids(session, member_id, user_ids, invitation_ids)
    data["mail_received"] = [
        {"kind": m.kind, "subject": m.subject, "status": m.status,
         "created_at": _plain(m.created_at), "sent_at": _plain(m.sent_at)}
        for start in range(0, len(mail_ids), 500)
        for m in session.scalars(
            select(OutboxMessage).where(OutboxMessage.id.in_(mail_ids[start:start + 500]))
            .order_by(OutboxMessage.id))
    ]
    data["audit_entries"] = member_audit_entries(
        session, member_id, linked=_linked_rows(session, member_id), user_ids=user_ids,
        invitations=data.get("invitations", []))
    return hide_staff(session, readable(session, data), member_id)


def erase_member(session: Session, member_id: int, *, key: str, now: datetime | None = None,
                 zone: str = "Europe/Berlin") -> dict[str, int]:
    """Remove the member's personal data in the caller's transaction (flush only).

    Rows that stay (grants, invitations, tier history, ...) keep their member_id, which
    now points at the pseudonymous member row. `zone` is the programme's time zone (the
    tax year ends at midnight there).
    """
    now = now or utcnow()
    # Lock the member row only ("of"): PostgreSQL refuses FOR UPDATE on the joined tier.
    member = session.scalar(
        select(Member).where(Member.id == member_id).with_for_update(of=Member))
    if member is None:
        raise NotFound(member_id)
    if member.external_id.startswith(ERASED_PREFIX):
        raise ValueError("already erased")
    users = session.scalars(select(User).where(User.member_id == member_id)).all()
    user_ids = [u.id for u in users]
    # Only the member's own logins (unique) identify rows of theirs by address: the
    # imported member address may be anybody's, even a staff user's.
    logins = sorted({u.email.lower() for u in users if u.email})
    own_actors = [f"{role}:{login}" for login in logins
                  for role in {str(u.role) for u in users} | {"member"}]
    counts: dict[str, int] = {}

    magic = delete(MagicLink).where(or_(
        MagicLink.member_id == member_id, MagicLink.user_id.in_(user_ids)))
    counts["magic_links"] = session.execute(magic).rowcount
    counts["calendar_feeds"] = session.execute(
        delete(CalendarFeed).where(CalendarFeed.member_id == member_id)).rowcount
    invitation_ids = list(session.scalars(
        select(Invitation.id).where(Invitation.member_id == member_id)))
    counts.update(calendar_delegates.forget_member(session, member_id, invitation_ids))
    mail_ids = member_mail_ids(session, member_id, user_ids, invitation_ids)
    counts["mail_files"] = delete_mail_files(mail_file_dir(), mail_ids)
    counts["outbox_messages"] = 0
    for start in range(0, len(mail_ids), 500):
        counts["outbox_messages"] += session.execute(
            delete(OutboxMessage).where(OutboxMessage.id.in_(mail_ids[start:start + 500]))
        ).rowcount
    counts["login_attempts"] = session.execute(
        delete(LoginAttempt).where(func.lower(LoginAttempt.email).in_(logins))
    ).rowcount if logins else 0
    # Free-text answers may name the member or others; attendance itself stays.
    counts["invitations_pseudonymised"] = session.execute(
        update(Invitation).where(Invitation.member_id == member_id).values(answers=None)
    ).rowcount
    counts["invitation_links_reissued"] = reissue_member_links(session, member_id)
    pseudonym = f"Erased member #{member.id}"
    # Very short names are skipped: replacing "Al" everywhere would mangle unrelated text.
    # The needles are only ever replaced inside rows found to be the member's.
    needles = [n for n in dict.fromkeys(
        [member.display_name, member.email or "", *(u.email for u in users)]
    ) if len(n) >= 3]
    counts["restricted_names"] = _restrict_tax_name(session, member, now=now, zone=zone)
    counts["free_text_rows_redacted"] = redact_member_rows(
        session, member_id, user_ids, needles=needles, pseudonym=pseudonym,
        own_actors=own_actors, skip=_EXPLICIT)
    counts["import_issues_scrubbed"] = _scrub_import_issues(session, member, needles, pseudonym)
    grants = db.metadata.tables.get("reward_grants")
    if grants is not None and "fulfilment_note" in grants.c:
        # Shipping details are personal data and not needed for the tax record.
        session.execute(update(grants).where(grants.c.member_id == member_id)
                        .values(fulfilment_note=""))
    for user in users:
        user.email = f"erased-user-{user.id}@invalid"
        user.name = ""
        user.password_hash = None
        user.active = False
        end_sessions(user)
        user.locale = None
        user.last_login_at = None
    counts["users_deactivated"] = len(users)

    counts["audit_entries_redacted"] = redact_member(
        session, member_id, needles=needles, pseudonym=pseudonym,
        linked=_linked_rows(session, member_id), user_ids=user_ids,
        own_actors=own_actors)
    member.external_id = erased_external_id(key, member.source, member.external_id)
    member.display_name = pseudonym
    member.email = None
    member.region = None
    member.locale = None
    member.joined_at = None
    member.tier_override_reason = None
    session.flush()
    audit.record(session, "member.erased", "member", member_id,
                 after={"removed": sorted(counts), "counts": counts})
    checkpoint_after_commit(session)
    return counts


def member_mail_ids(session: Session, member_id: int, user_ids: list[int],
                    invitation_ids: list[int]) -> list[int]:
    """Outbox rows for the member, by reference: the row's member/user, or a deferred
    mail's invitation or member in its payload (rows queued before the references)."""
    conditions = [OutboxMessage.member_id == member_id]
    if user_ids:
        conditions.append(OutboxMessage.user_id.in_(user_ids))
    payload_invitation = OutboxMessage.payload["invitation_id"].as_integer()
    for start in range(0, len(invitation_ids), 500):
        conditions.append(payload_invitation.in_(invitation_ids[start:start + 500]))
    conditions.append(and_(OutboxMessage.payload["mailing_id"].as_integer().is_not(None),
                           OutboxMessage.payload["member_id"].as_integer() == member_id))
    return list(session.scalars(select(OutboxMessage.id).where(or_(*conditions))
                                .order_by(OutboxMessage.id)))


def _scrub_import_issues(session: Session, member: Member, needles: list[str],
                         pseudonym: str) -> int:
    """Issues about the member's platform user (source + external_id), pseudonymised."""
    issues = session.scalars(
        select(ImportIssue).join(ImportRun, ImportRun.id == ImportIssue.run_id)
        .where(ImportRun.source == member.source,
               ImportIssue.external_id == member.external_id)).all()
    pattern = re.compile("|".join(re.escape(n) for n in sorted(
        {*needles, member.external_id}, key=len, reverse=True)), re.IGNORECASE)
    for issue in issues:
        issue.reason = pattern.sub(pseudonym, issue.reason)
        issue.external_id = None
    return len(issues)


def _linked_rows(session: Session, member_id: int) -> dict[str, list[int]]:
    """The member's rows by audit object type ("invitations" -> "invitation")."""
    present = set(session.scalars(select(AuditEntry.object_type).distinct()))
    linked: dict[str, list[int]] = {}
    for table, cols in _referencing("members"):
        object_type = table.name[:-1] if table.name.endswith("s") else table.name
        if object_type not in present or "id" not in table.c:
            continue
        linked[object_type] = list(session.scalars(
            select(table.c.id).where(or_(*(c == member_id for c in cols)))))
    return linked


def _restrict_tax_name(session: Session, member: Member, *, now: datetime,
                       zone: str) -> int:
    """Keep the name for the gift listing while the tax retention of their gifts runs."""
    if _rewards is None:
        return 0
    from ...rewards import restriction

    last_year = restriction.last_gift_year(session, member.id)
    if last_year is None:
        return 0
    years = retention.current_periods(session)[Kind.TAX_NAMES].amount
    until = tax_retain_until(last_year, years, zone)
    if until <= now:
        return 0
    restriction.restrict(session, member.id, name=member.display_name, basis=TAX_BASIS,
                         now=now, retain_until=until)
    return 1
