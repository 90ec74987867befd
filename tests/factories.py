"""Builders for test data (flush only; the test decides when to commit)."""
from __future__ import annotations

import itertools
import uuid
from datetime import date, datetime, timedelta
from decimal import Decimal

from werkzeug.security import generate_password_hash

from engagement.accounts.models import User
from engagement.community.models import ContributionDay, Member, Tier
from engagement.community.segments.models import Segment
from engagement.events.models import Event, EventStatus, Invitation, InvitationStatus
from engagement.extensions import db
from engagement.rewards.models import Grant, RewardItem
from engagement.timeutil import utcnow

_seq = itertools.count(1)
PASSWORD = "correct horse battery"
_HASH = generate_password_hash(PASSWORD, method="pbkdf2:sha256:1000")  # fast in tests


def make_user(role: str = "manager", email: str | None = None, **fields) -> User:
    n = next(_seq)
    user = User(email=email or f"{role}{n}@example.org",
                name=fields.pop("name", f"{role.title()} {n}"), role=role,
                password_hash=fields.pop("password_hash", _HASH), active=True, **fields)
    db.session.add(user)
    db.session.flush()
    return user


def make_member(**fields) -> Member:
    n = next(_seq)
    defaults = dict(source="test", external_id=str(n), display_name=f"Member {n}",
                    email=f"member{n}@example.org", locale="de", region="Berlin")
    member = Member(**{**defaults, **fields})
    db.session.add(member)
    db.session.flush()
    return member


def add_days(member: Member, days: dict[date, dict[str, int]]) -> None:
    """Add daily contribution rows: {date: {"answers": 3, ...}}."""
    for day, values in days.items():
        db.session.add(ContributionDay(member_id=member.id, day=day, **{
            k: values.get(k, 0)
            for k in ("posts", "answers", "accepted_solutions", "kudos_received")
        }))
    db.session.flush()


def make_tier(
    name: str, rank: int, rule: str, grace_days: int = 90, color: str = "#64748b"
) -> Tier:
    tier = Tier(name=name, rank=rank, rule=rule, grace_days=grace_days, color=color, description="")
    db.session.add(tier)
    db.session.flush()
    return tier


def make_event(title: str = "Sommerfest", days: int = 10, *, starts_at: datetime | None = None,
               hours: int = 3, **fields) -> Event:
    """A published event in Berlin, `days` from now (or at `starts_at`), `hours` long.

    Any column can be overridden, e.g. `status=EventStatus.DRAFT` or `capacity=2`. It is a
    plain row: no audit, no outbox (use the events services to test those).
    """
    start = starts_at or utcnow().replace(microsecond=0) + timedelta(days=days)
    values = dict(uid=f"{uuid.uuid4()}@test", title=title, timezone="Europe/Berlin",
                  starts_at=start, ends_at=start + timedelta(hours=hours),
                  organizer_email="events@example.org", status=EventStatus.PUBLISHED,
                  created_at=utcnow(), updated_at=utcnow())
    event = Event(**{**values, **fields})
    db.session.add(event)
    db.session.flush()
    return event


def make_invitation(event: Event, member: Member,
                    status: InvitationStatus = InvitationStatus.INVITED, **fields) -> Invitation:
    """`member`'s invitation to `event` with `status` (a fresh nonce unless given)."""
    values = dict(nonce=uuid.uuid4().hex[:16])
    invitation = Invitation(event_id=event.id, member_id=member.id, status=status,
                            **{**values, **fields})
    db.session.add(invitation)
    db.session.flush()
    return invitation


def make_reward_item(name: str = "Mug", value: str | Decimal = "20.00", kind: str = "gift",
                     **fields) -> RewardItem:
    """A catalogue item of gross `value` (a plain row: `rewards.services.create_item` also
    audits). Net value and VAT rate default to the gross value and 0 %."""
    fields.setdefault("net_value", Decimal(value))
    fields.setdefault("vat_rate", Decimal("0"))
    item = RewardItem(name=name, value=Decimal(value), kind=kind, **fields)
    db.session.add(item)
    db.session.flush()
    return item


def make_grant(member: Member, item: RewardItem, value: str | Decimal | None = None, *,
               year: int | None = None, status: str = "approved", **fields) -> Grant:
    """A grant of `item` to `member` (its value unless given), approved, this year by default.

    A plain row that skips the plan/approve flow; use `rewards.services` to test that flow.
    """
    gross = item.value if value is None else Decimal(value)
    fields.setdefault("net_value", item.net_value if value is None else gross)
    fields.setdefault("vat_rate", item.vat_rate if value is None else Decimal("0"))
    grant = Grant(member_id=member.id, item_id=item.id, value=gross,
                  kind=fields.pop("kind", item.kind), year=year or utcnow().year,
                  status=status, **fields)
    db.session.add(grant)
    db.session.flush()
    return grant


def make_segment(name: str | None = None, criteria: dict | None = None, **fields) -> Segment:
    """A saved segment row with `criteria` as stored ({"tiers": ["Expert"], ...}).

    Not counted and not audited: `segments.services.save_segment` does that.
    """
    n = next(_seq)
    segment = Segment(name=name or f"Segment {n}", criteria=criteria or {}, **fields)
    db.session.add(segment)
    db.session.flush()
    return segment
