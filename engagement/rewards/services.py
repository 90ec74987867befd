"""Use cases for rewards: catalogue, grants (single, event attendees, tier), ledger.

Each takes a session and values (the clock is injected), writes the audit log and only
flushes; the request or command commits.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from sqlalchemy import (
    Integer,
    Select,
    String,
    and_,
    case,
    func,
    insert,
    literal,
    or_,
    select,
)
from sqlalchemy.orm import Session

from .. import audit
from ..community.members.services import search_members
from ..community.models import Member
from ..db import ExactDecimal, Money
from ..events import attendance
from ..events.models import Event
from ..timeutil import UTCDateTime, year_bounds_utc
from . import notice as notices
from . import rules
from .models import Grant, RewardItem
from .rules import Fulfilment, GrantStatus, Kind, TaxSettings

# The tax rules and approval settings live in tax_services; callers reach every rewards use
# case through this module.
from .tax_services import (  # noqa: F401
    COMPANY_KEY,
    FOUR_EYES_KEY,
    RewardError,
    SettingSource,
    company_name,
    four_eyes,
    four_eyes_source,
    save_company_name,
    save_four_eyes,
    save_tax_year,
    tax_settings,
    tax_years,
)


class FourEyesRequired(RewardError):
    """The grant is above the four-eyes threshold and the approver proposed it."""


# --- catalogue ----------------------------------------------------------------------------

def _priced(net_value: object, vat_rate: object) -> tuple[Decimal, Decimal, Decimal]:
    try:
        net, rate = rules.money(net_value), rules.percent(vat_rate)
    except ValueError as exc:
        raise RewardError(f"net value/VAT rate: {exc}") from exc
    return net, rate, rules.gross_of(net, rate)


def create_item(session: Session, *, name: str, kind: str, net_value: object = None,
                vat_rate: object = "0", description: str = "",
                now: datetime, value: object | None = None) -> RewardItem:
    """A catalogue item from its net price and VAT rate (`value`, a gross amount with no
    VAT known, is accepted for callers that only know the gross: then net = gross)."""
    name = (name or "").strip()
    if not name or len(name) > 200:
        raise RewardError("name: required, at most 200 characters")
    if value is not None:
        net_value, vat_rate = value, "0"
    net, rate, gross = _priced(net_value, vat_rate)
    try:
        kind_ = Kind(kind)
    except ValueError as exc:
        raise RewardError(f"kind: {exc}") from exc
    item = RewardItem(name=name, description=description or "", net_value=net, vat_rate=rate,
                      value=gross, kind=kind_, active=True, created_at=now)
    session.add(item)
    session.flush()
    audit.record(session, "rewards.item_create", "reward_item", item.id,
                 after=_item_state(item))
    return item


def update_item(session: Session, item: RewardItem, *, name: str, kind: str,
                net_value: object, vat_rate: object, description: str,
                active: bool) -> RewardItem:
    before = _item_state(item)
    name = (name or "").strip()
    if not name or len(name) > 200:
        raise RewardError("name: required, at most 200 characters")
    item.net_value, item.vat_rate, item.value = _priced(net_value, vat_rate)
    try:
        item.kind = Kind(kind)
    except ValueError as exc:
        raise RewardError(f"kind: {exc}") from exc
    item.name, item.description, item.active = name, description or "", bool(active)
    session.flush()
    audit.record(session, "rewards.item_update", "reward_item", item.id,
                 before=before, after=_item_state(item))
    return item


def _item_state(item: RewardItem) -> dict:
    return {"name": item.name, "net_value": str(item.net_value),
            "vat_rate": str(item.vat_rate), "value": str(item.value), "kind": str(item.kind),
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


def _year_sums(session: Session, year: int, tz_name: str, settings: TaxSettings,
               member_ids: Select | list[int] | None = None, *,
               pending: bool = False) -> dict[int, rules.YearTotals]:
    """Per member for one year, summed in the database (exact: NUMERIC, or whole cents on
    SQLite): the amount the limit test counts, the gross value, the § 37b base before the
    cap, and the give-aways left out of it; hospitality added if the year counts it."""
    kinds = [k for k in Kind if rules.counts_for_ledger(k, settings)]
    gifts = list(rules.GIFT_KINDS)
    basis = Grant.net_value if settings.limit_basis == rules.LimitBasis.NET else Grant.value
    flat = and_(Grant.kind.in_(gifts), basis > settings.giveaway_limit)
    zero = literal(Decimal("0.00"), Money())
    query = (select(Grant.member_id, func.sum(basis), func.sum(Grant.value),
                    func.sum(case((flat, Grant.value), else_=zero)),
                    func.sum(case((and_(Grant.kind.in_(gifts), ~flat), Grant.value),
                                  else_=zero)))
             .where(Grant.year == year, _counted(pending=pending), Grant.kind.in_(kinds))
             .group_by(Grant.member_id))
    if member_ids is not None:
        query = query.where(Grant.member_id.in_(member_ids))
    sums = {m: [limit, gross, base, give] for m, limit, gross, base, give in
            session.execute(query)}
    if settings.include_hospitality:
        sub = _hospitality(year, tz_name).subquery()
        query = select(sub.c.member_id, func.sum(sub.c.value)).group_by(sub.c.member_id)
        if member_ids is not None:
            query = query.where(sub.c.member_id.in_(member_ids))
        for member_id, value in session.execute(query):
            entry = sums.setdefault(member_id, [Decimal("0.00")] * 4)
            entry[0] += value
            entry[1] += value
    return {m: rules.YearTotals(*(Decimal(v) for v in values)) for m, values in sums.items()}


def _totals(session: Session, year: int, tz_name: str, settings: TaxSettings,
            member_ids: Select | list[int] | None = None, *,
            pending: bool = False) -> dict[int, Decimal]:
    """Per member: the amount the year's limit test counts (net or gross, see settings)."""
    return {m: t.limit_total for m, t in _year_sums(
        session, year, tz_name, settings, member_ids, pending=pending).items()}


def _flat_gifts(session: Session, year: int, member_id: int, settings: TaxSettings):
    """(grant, item name) of the member's gifts in the § 37b base, in the order given."""
    basis = Grant.net_value if settings.limit_basis == rules.LimitBasis.NET else Grant.value
    return session.execute(
        select(Grant, RewardItem.name).join(RewardItem, RewardItem.id == Grant.item_id)
        .where(Grant.member_id == member_id, Grant.year == year, _counted(pending=False),
               Grant.kind.in_(list(rules.GIFT_KINDS)), basis > settings.giveaway_limit)
        .order_by(Grant.granted_at, Grant.id)).all()


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
    year = rules.grant_year(now, tz_name)
    settings = tax_settings(session, year)
    # Only recipients who already have gifts this year are loaded; everyone else starts at 0.
    totals = _totals(session, year, tz_name, settings, recipients, pending=True)
    preview = rules.Preview(count=count, total=rules.money(item.value * count))
    for member_id in sorted(totals):
        preview.add(rules.check_grant(member_id, totals[member_id], item.value, item.kind,
                                      settings, net=item.net_value))
    fresh = rules.check_grant(0, Decimal("0"), item.value, item.kind, settings,
                              net=item.net_value)
    if fresh.crosses_limit:  # the item alone is over the limit: every new recipient crosses
        preview.crossing_count += count - len(totals)
        room = rules.PREVIEW_CROSSING - len(preview.crossing)
        if room > 0:
            ids = session.scalars(recipients.where(Member.id.not_in(list(totals) or [0]))
                                  .order_by(Member.id).limit(room))
            preview.crossing += [rules.check_grant(m, Decimal("0"), item.value, item.kind,
                                                   settings, net=item.net_value)
                                 for m in ids]
    return GrantPlan(item, recipients, year, preview)


def over_limit(session: Session, year: int, tz_name: str, member_ids, *,
               pending: bool = False) -> set[int]:
    """Those of `member_ids` whose year already exceeds the gift limit: by approved grants
    (the ledger's flag), or with `pending` by proposals too (the warning before granting)."""
    ids = list(member_ids)
    if not ids:
        return set()
    settings = tax_settings(session, year)
    totals = _totals(session, year, tz_name, settings, ids, pending=pending)
    return {m for m, total in totals.items()
            if rules.flag_for(total, settings.gift_limit) == rules.Flag.OVER}


def over_limit_by_year(session: Session, pairs, tz_name: str) -> set[tuple[int, int]]:
    """The (member id, year) pairs whose year is over the gift limit (approved grants), so
    a list of grants of several years can flag each row by its own year."""
    per_year: dict[int, set[int]] = {}
    for member_id, year in pairs:
        per_year.setdefault(year, set()).add(member_id)
    return {(m, year) for year, ids in per_year.items()
            for m in over_limit(session, year, tz_name, ids)}


PICK_LIMIT = 20


def pick_members(session: Session, q: str, *, year: int, tz_name: str,
                 limit: int = PICK_LIMIT) -> tuple[list[Member], bool, set[int]]:
    """The grant form's member picker: up to `limit` members matching `q` (the one member
    search), by name; whether more match; and which of them are over the year's limit
    already (proposals included: the manager is about to add one)."""
    q = (q or "").strip()
    if not q:
        return [], False, set()
    rows = list(session.scalars(search_members(session, q)
                                .order_by(Member.display_name, Member.id).limit(limit + 1)))
    shown = rows[:limit]
    over = over_limit(session, year, tz_name, [m.id for m in shown], pending=True)
    return shown, len(rows) > limit, over


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
               "value": literal(item.value, Money()),
               "net_value": literal(item.net_value, Money()),
               "vat_rate": literal(item.vat_rate, ExactDecimal(5, 2)),
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


def needs_second_person(session: Session, grant: Grant) -> bool:
    """Whether approving `grant` takes someone other than its proposer (four eyes)."""
    return rules.needs_second_person(grant.value, four_eyes(session))


def decide(session: Session, grant: Grant, *, approve: bool, by_user_id: int | None,
           now: datetime) -> Grant:
    """Approve or reject a proposed grant. Four eyes: above the configured value its
    proposer cannot approve it (rejecting one's own proposal is always possible)."""
    if grant.status != GrantStatus.PROPOSED:
        raise RewardError("only proposed grants can be approved or rejected")
    policy = four_eyes(session)
    if approve and not rules.may_approve(grant.value, grant.granted_by_id, by_user_id, policy):
        raise FourEyesRequired(
            f"four eyes: a grant above {policy.above:.2f} EUR needs the approval of someone "
            "other than its proposer")
    grant.status = GrantStatus.APPROVED if approve else GrantStatus.REJECTED
    grant.approved_by_id, grant.decided_at = by_user_id, now
    session.flush()
    audit.record(session, "rewards.approve" if approve else "rewards.reject", "reward_grant",
                 grant.id, before={"status": "proposed"},
                 after={"status": str(grant.status), "proposed_by": grant.granted_by_id,
                        "four_eyes": rules.needs_second_person(grant.value, policy)})
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


def ledger(session: Session, year: int, tz_name: str,
           member_ids: list[int] | None = None) -> list[rules.LedgerLine]:
    """Per-recipient lines of one year under that year's rules: approved, not cancelled
    grants (plus event hospitality if the year counts it); all recipients or `member_ids`."""
    settings = tax_settings(session, year)
    lines = []
    for member_id, totals in sorted(_year_sums(session, year, tz_name, settings,
                                               member_ids).items()):
        capped = None
        if settings.flat_tax_opted_in and totals.flat_gross > settings.flat_tax_cap:
            # Rare: only then does the order of the gifts matter (the cap cuts it).
            capped = rules.flat_tax_base(
                [g.value for g, _name in _flat_gifts(session, year, member_id, settings)],
                settings.flat_tax_cap)
        lines.append(rules.ledger_line(member_id, year, totals, settings, capped))
    return lines


def ledger_summary(lines: list[rules.LedgerLine]) -> dict:
    return {"recipients": len(lines), "total": sum((ln.total for ln in lines), Decimal("0")),
            "gross": sum((ln.gross for ln in lines), Decimal("0")),
            "over": sum(1 for ln in lines if ln.flag == rules.Flag.OVER),
            "tax": sum((ln.tax or Decimal("0") for ln in lines), Decimal("0")),
            "base": sum((ln.flat_base or Decimal("0") for ln in lines), Decimal("0"))}


def member_ledger(session: Session, year: int, member_id: int,
                  tz_name: str) -> rules.LedgerLine | None:
    """One recipient's line of the year (None: nothing that counts)."""
    return next(iter(ledger(session, year, tz_name, [member_id])), None)


@dataclass(frozen=True)
class Notice:
    member_id: int
    year: int
    recipient: str
    text: str
    line: rules.LedgerLine
    settings: TaxSettings


def flat_tax_notice(session: Session, year: int, member_id: int, *, recipient: str,
                    tz_name: str, issued) -> Notice:
    """The § 37b notice for one recipient and year (German text), from that year's rules."""
    settings = tax_settings(session, year)
    if not settings.flat_tax_opted_in:
        raise RewardError(f"no flat-rate tax in {year}: the company did not opt in")
    from zoneinfo import ZoneInfo

    zone = ZoneInfo(tz_name)
    rows = _flat_gifts(session, year, member_id, settings)
    if not rows:
        raise RewardError("no gifts in the flat-rate tax for this recipient and year")
    # The same cut as rules.flat_tax_base, gift by gift, so the notice can list both sides.
    base, over, gifts = Decimal("0.00"), False, []
    for grant, name in rows:
        fits = not over and base + grant.value <= settings.flat_tax_cap
        base, over = (base + grant.value, over) if fits else (base, True)
        gifts.append(notices.NoticeGift(grant.granted_at.astimezone(zone).date(), name,
                                      grant.value, fits))
    text = notices.flat_tax_notice(recipient=recipient, member_id=member_id, year=year,
                                 gifts=gifts, settings=settings, issued=issued,
                                 company=company_name(session))
    line = member_ledger(session, year, member_id, tz_name)
    return Notice(member_id, year, recipient, text, line, settings)


def gift_rows(session: Session, year: int):
    """The separate listing of gifts: one row per approved, not cancelled gift of the year."""
    return session.execute(
        select(Grant.id, Grant.granted_at, Member.display_name, Member.id, RewardItem.name,
               Grant.kind, Grant.value, Grant.net_value, Grant.vat_rate, Grant.status,
               Grant.reason)
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
    settings = tax_settings(session, year)
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
