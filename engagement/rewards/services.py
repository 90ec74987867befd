"""Use cases for rewards: catalogue, grants (single, event attendees, tier), ledger.

Each takes a session and values (the clock is injected), writes the audit log and only
flushes; the request or command commits.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from sqlalchemy import Integer, Numeric, Select, String, and_, func, insert, literal, or_, select
from sqlalchemy.orm import Session

from .. import audit
from ..community.models import Member
from ..events import attendance
from ..events.models import Event
from ..settings import get_setting, set_setting
from ..timeutil import UTCDateTime, year_bounds_utc
from . import rules
from .models import Grant, RewardItem
from .rules import Fulfilment, GrantStatus, Kind, TaxSettings

SETTINGS_KEY = "rewards.tax"


class RewardError(ValueError):
    """A request the rules refuse; the message is shown to the user."""


def tax_settings(session: Session) -> TaxSettings:
    return TaxSettings.from_mapping(get_setting(session, SETTINGS_KEY))


def save_tax_settings(session: Session, new: TaxSettings) -> TaxSettings:
    old = tax_settings(session)
    set_setting(session, SETTINGS_KEY, new.to_mapping())
    audit.record(session, "rewards.settings", "setting", SETTINGS_KEY,
                 before=old.to_mapping(), after=new.to_mapping())
    return new


def create_item(session: Session, *, name: str, value: object, kind: str,
                description: str = "", now: datetime) -> RewardItem:
    name = (name or "").strip()
    if not name or len(name) > 200:
        raise RewardError("name: required, at most 200 characters")
    try:
        amount = rules.money(value)
        kind_ = Kind(kind)
    except ValueError as exc:
        raise RewardError(f"value/kind: {exc}") from exc
    item = RewardItem(name=name, description=description or "", value=amount, kind=kind_,
                      active=True, created_at=now)
    session.add(item)
    session.flush()
    audit.record(session, "rewards.item_create", "reward_item", item.id,
                 after=_item_state(item))
    return item


def update_item(session: Session, item: RewardItem, *, name: str, value: object, kind: str,
                description: str, active: bool) -> RewardItem:
    before = _item_state(item)
    name = (name or "").strip()
    if not name or len(name) > 200:
        raise RewardError("name: required, at most 200 characters")
    try:
        item.value, item.kind = rules.money(value), Kind(kind)
    except ValueError as exc:
        raise RewardError(f"value/kind: {exc}") from exc
    item.name, item.description, item.active = name, description or "", bool(active)
    session.flush()
    audit.record(session, "rewards.item_update", "reward_item", item.id,
                 before=before, after=_item_state(item))
    return item


def _item_state(item: RewardItem) -> dict:
    return {"name": item.name, "value": str(item.value), "kind": str(item.kind),
            "active": item.active}


# --- recipients -------------------------------------------------------------------------

def event_attendee_ids(event_id: int) -> Select:
    """Attendees as events counts them: checked in if the event used check-in, otherwise
    accepted (`events.attendance`)."""
    return attendance.attendee_ids_query(event_id)


def _hospitality(year: int, tz_name: str) -> Select:
    """(member_id, per-attendee cost) for every attendance at an event starting in the year."""
    start, end = year_bounds_utc(year, tz_name)
    rows = attendance.attendances_between(start, end).subquery()
    return (select(rows.c.member_id.label("member_id"),
                   rows.c.per_attendee_cost.label("value"))
            .where(rows.c.per_attendee_cost.is_not(None)))


def _counted(*, pending: bool):
    """Grants that count: approved ones (the ledger); with `pending`, proposals too (the
    warning: a proposal the manager is about to approve must already warn). A cancelled
    fulfilment means the gift was never given."""
    states = ([GrantStatus.APPROVED, GrantStatus.PROPOSED] if pending
              else [GrantStatus.APPROVED])
    return and_(Grant.status.in_(states),
                or_(Grant.fulfilment.is_(None), Grant.fulfilment != Fulfilment.CANCELLED))


def _totals(session: Session, year: int, tz_name: str, settings: TaxSettings,
            member_ids: Select | None = None, *, pending: bool = False) -> dict[int, Decimal]:
    """Totals per member for one year (grants, plus hospitality), summed in the database."""
    kinds = [k for k in Kind if rules.counts_for_ledger(k, settings)]
    query = (select(Grant.member_id, func.sum(Grant.value))
             .where(Grant.year == year, _counted(pending=pending), Grant.kind.in_(kinds))
             .group_by(Grant.member_id))
    if member_ids is not None:
        query = query.where(Grant.member_id.in_(member_ids))
    totals = {m: Decimal(t) for m, t in session.execute(query)}
    if settings.include_hospitality:
        sub = _hospitality(year, tz_name).subquery()
        query = select(sub.c.member_id, func.sum(sub.c.value)).group_by(sub.c.member_id)
        if member_ids is not None:
            query = query.where(sub.c.member_id.in_(member_ids))
        for member_id, value in session.execute(query):
            totals[member_id] = totals.get(member_id, Decimal("0")) + Decimal(value)
    return totals


@dataclass
class GrantPlan:
    item: RewardItem
    member_ids: Select  # the recipients, as a query (a tier may hold 100,000s of members)
    year: int
    preview: rules.Preview = field(default_factory=rules.Preview)


def plan_grants(session: Session, *, item_id: int, member_ids: Select | list[int],
                now: datetime, tz_name: str) -> GrantPlan:
    """Who would get the item, what it costs and who would cross the gift limit."""
    item = session.get(RewardItem, item_id)
    if item is None or not item.active:
        raise RewardError("item: unknown or inactive reward")
    recipients = select(Member.id).where(Member.id.in_(member_ids))
    count = session.scalar(select(func.count()).select_from(recipients.subquery())) or 0
    settings = tax_settings(session)
    year = rules.grant_year(now, tz_name)
    # Only recipients who already have gifts this year are loaded; everyone else starts at 0.
    totals = _totals(session, year, tz_name, settings, recipients, pending=True)
    preview = rules.Preview(count=count, total=rules.money(item.value * count))
    for member_id in sorted(totals):
        check = rules.check_grant(member_id, totals[member_id], item.value, item.kind,
                                  settings)
        if check.crosses_limit:
            preview.crossing_count += 1
            if len(preview.crossing) < rules.PREVIEW_CROSSING:
                preview.crossing.append(check)
    fresh = rules.check_grant(0, Decimal("0"), item.value, item.kind, settings)
    if fresh.crosses_limit:  # the item alone is over the limit: every new recipient crosses
        preview.crossing_count += count - len(totals)
        room = rules.PREVIEW_CROSSING - len(preview.crossing)
        if room > 0:
            ids = session.scalars(recipients.where(Member.id.not_in(list(totals) or [0]))
                                  .order_by(Member.id).limit(room))
            preview.crossing += [rules.check_grant(m, Decimal("0"), item.value, item.kind,
                                                   settings) for m in ids]
    return GrantPlan(item, recipients, year, preview)


def execute_plan(session: Session, plan: GrantPlan, *, reason: str, event_id: int | None,
                 by_user_id: int | None, now: datetime, target: str) -> Grant | int:
    """Create proposed grants for the plan in one INSERT ... SELECT; one audit entry.

    Returns the grant when there is exactly one recipient, else the number created.
    """
    if not plan.preview.count:
        raise RewardError("nobody to grant to")
    if event_id is not None and session.get(Event, event_id) is None:
        raise RewardError("event_id: unknown event")
    item = plan.item
    columns = {"member_id": Member.id, "item_id": literal(item.id),
               "value": literal(item.value, Numeric(10, 2)),
               "kind": literal(str(item.kind), String(16)), "reason": literal(reason or ""),
               "event_id": literal(event_id, Integer), "year": literal(plan.year),
               "status": literal(GrantStatus.PROPOSED.value, String(16)),
               "fulfilment_note": literal(""), "granted_by_id": literal(by_user_id, Integer),
               "granted_at": literal(now, UTCDateTime())}
    source = plan.member_ids.with_only_columns(*[c.label(k) for k, c in columns.items()])
    first_id = session.scalar(select(func.max(Grant.id))) or 0
    session.execute(insert(Grant).from_select(list(columns), source))
    # rowcount of INSERT ... SELECT is not reported by every driver (psycopg gives -1).
    mine = (Grant.id > first_id, Grant.item_id == item.id, Grant.granted_at == now)
    created = session.scalar(select(func.count(Grant.id)).where(*mine)) or 0
    if not created:  # the recipients vanished between preview and confirmation
        raise RewardError("nobody to grant to")
    single = None
    if created == 1:
        single = session.scalars(select(Grant).where(*mine)).one()
    audit.record(session, "rewards.grant", "reward_grant", single and single.id,
                 after={"target": target, "item_id": item.id, "count": created,
                        "value": str(item.value), "total": str(plan.preview.total),
                        "year": plan.year, "event_id": event_id,
                        "crossing_limit": plan.preview.crossing_count,
                        "crossing_first": [c.member_id for c in plan.preview.crossing]})
    return single if single is not None else created


def decide(session: Session, grant: Grant, *, approve: bool, by_user_id: int | None,
           now: datetime) -> Grant:
    if grant.status != GrantStatus.PROPOSED:
        raise RewardError("only proposed grants can be approved or rejected")
    grant.status = GrantStatus.APPROVED if approve else GrantStatus.REJECTED
    grant.approved_by_id, grant.decided_at = by_user_id, now
    session.flush()
    audit.record(session, "rewards.approve" if approve else "rewards.reject", "reward_grant",
                 grant.id, before={"status": "proposed"}, after={"status": str(grant.status)})
    return grant


# Fulfilment only moves forward (steps may be skipped: a gift from stock is never
# "ordered"); cancelling is possible until delivery.
_NEXT = {None: set(Fulfilment),
         Fulfilment.ORDERED: {Fulfilment.SHIPPED, Fulfilment.DELIVERED, Fulfilment.CANCELLED},
         Fulfilment.SHIPPED: {Fulfilment.DELIVERED, Fulfilment.CANCELLED},
         Fulfilment.DELIVERED: set(), Fulfilment.CANCELLED: set()}


def set_fulfilment(session: Session, grant: Grant, *, status: str, note: str,
                   now: datetime) -> Grant:
    if grant.status != GrantStatus.APPROVED:
        raise RewardError("only approved grants can be fulfilled")
    try:
        new = Fulfilment(status)
    except ValueError as exc:
        raise RewardError("status: unknown fulfilment status") from exc
    if new not in _NEXT[grant.fulfilment]:
        raise RewardError(f"status: cannot go from {grant.fulfilment or 'none'} to {new}")
    before = {"fulfilment": grant.fulfilment and str(grant.fulfilment),
              "note": grant.fulfilment_note}
    grant.fulfilment, grant.fulfilment_note, grant.fulfilment_at = new, note or "", now
    session.flush()
    audit.record(session, "rewards.fulfilment", "reward_grant", grant.id, before=before,
                 after={"fulfilment": str(new), "note": grant.fulfilment_note})
    return grant


def ledger(session: Session, year: int, tz_name: str) -> list[rules.LedgerLine]:
    """Per-recipient totals of one year: approved, not cancelled grants (plus event
    hospitality if configured)."""
    settings = tax_settings(session)
    totals = _totals(session, year, tz_name, settings)
    return [rules.ledger_line(m, year, t, settings) for m, t in sorted(totals.items())]


def ledger_summary(lines: list[rules.LedgerLine]) -> dict:
    return {"recipients": len(lines), "total": sum((ln.total for ln in lines), Decimal("0")),
            "over": sum(1 for ln in lines if ln.flag == rules.Flag.OVER),
            "tax": sum((ln.tax or Decimal("0") for ln in lines), Decimal("0"))}


def gift_rows(session: Session, year: int):
    """The separate listing of gifts: one row per approved, not cancelled gift of the year."""
    return session.execute(
        select(Grant.id, Grant.granted_at, Member.display_name, Member.id, RewardItem.name,
               Grant.kind, Grant.value, Grant.status, Grant.reason)
        .join(Member, Member.id == Grant.member_id).join(RewardItem, RewardItem.id == Grant.item_id)
        .where(Grant.year == year, _counted(pending=False),
               Grant.kind.in_(list(rules.GIFT_KINDS)))
        .order_by(Grant.granted_at, Grant.id)
        .execution_options(yield_per=2000))


@dataclass(frozen=True)
class RewardLine:
    """One reward a member received in a year, as the itemised volunteer record lists it."""

    at: datetime  # granted_at, or the event start for hospitality
    label: str  # the item's name, or the event's title for hospitality
    kind: Kind
    value: Decimal
    counted: bool  # counts towards the year's total under the tax settings
    grant_id: int | None = None
    event_id: int | None = None


def member_reward_lines(session: Session, member_id: int, year: int,
                        tz_name: str) -> list[RewardLine]:
    """The member's approved, not cancelled grants of `year` and (if configured) event
    hospitality, oldest first; the counted lines sum to the year's ledger total."""
    settings = tax_settings(session)
    lines = [RewardLine(at, name, Kind(kind), Decimal(value),
                        rules.counts_for_ledger(kind, settings), grant_id, event_id)
             for grant_id, at, name, kind, value, event_id in session.execute(
                 select(Grant.id, Grant.granted_at, RewardItem.name, Grant.kind, Grant.value,
                        Grant.event_id)
                 .join(RewardItem, RewardItem.id == Grant.item_id)
                 .where(Grant.member_id == member_id, Grant.year == year,
                        _counted(pending=False)))]
    if settings.include_hospitality:
        start, end = year_bounds_utc(year, tz_name)
        rows = attendance.attendances_between(start, end).subquery()
        lines += [RewardLine(starts_at, title, Kind.HOSPITALITY, Decimal(cost), True,
                             event_id=event_id)
                  for event_id, starts_at, title, cost in session.execute(
                      select(Event.id, Event.starts_at, Event.title, rows.c.per_attendee_cost)
                      .join(rows, rows.c.event_id == Event.id)
                      .where(rows.c.member_id == member_id,
                             rows.c.per_attendee_cost.is_not(None)))]
    return sorted(lines, key=lambda ln: (ln.at, ln.grant_id or 0))
