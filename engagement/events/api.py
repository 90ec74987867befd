"""JSON API for events and invitations (SPEC §4a); routes on the shared `api` blueprint."""
from __future__ import annotations

from datetime import datetime
from decimal import InvalidOperation
from typing import Any

from flask import Response, current_app, g, jsonify, request
from sqlalchemy import func, select

from ..api import bp
from ..api.errors import ApiError
from ..api.pagination import page_args
from ..extensions import db
from ..security import Role, roles_required
from ..timeutil import utcnow
from . import notifications, rules, services
from .calendar.ics import build_calendar
from .models import Event, Invitation
from .rsvp import services as rsvp

EVENT_FIELDS = ("title", "description", "venue", "address", "starts_at", "ends_at", "timezone",
                "capacity", "rsvp_deadline", "plus_one_allowed", "per_attendee_cost",
                "organizer_name", "organizer_email", "reminder_days", "questions")


def _iso_local(value: datetime | None, tz_name: str) -> str | None:
    return None if value is None else rules.to_local(value, tz_name).isoformat()


def _iso_utc(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat().replace("+00:00", "Z")


def event_json(event: Event, counts: dict[str, int] | None = None) -> dict[str, Any]:
    """The API shape of an event; times are local in `timezone`, with their offset."""
    tz = event.timezone
    return {
        "id": event.id, "uid": event.uid, "sequence": event.sequence,
        "status": str(event.status), "title": event.title, "description": event.description,
        "venue": event.venue, "address": event.address,
        "starts_at": _iso_local(event.starts_at, tz), "ends_at": _iso_local(event.ends_at, tz),
        "timezone": tz, "capacity": event.capacity,
        "rsvp_deadline": _iso_local(event.rsvp_deadline, tz),
        "plus_one_allowed": event.plus_one_allowed,
        "per_attendee_cost": (None if event.per_attendee_cost is None
                              else f"{event.per_attendee_cost:.2f}"),
        "organizer_name": event.organizer_name, "organizer_email": event.organizer_email,
        "reminder_days": event.reminder_days,
        "questions": [{"id": q.id, "label": q.label, "kind": q.kind,
                       "choices": list(q.choices or []), "required": q.required}
                      for q in event.questions],
        "invitations": counts or {"total": 0},
        "created_at": _iso_utc(event.created_at), "published_at": _iso_utc(event.published_at),
        "cancelled_at": _iso_utc(event.cancelled_at),
    }


def _body() -> dict[str, Any]:
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        raise ApiError(400, "the body must be a JSON object", "invalid_json")
    return data


def _invalid(field: str, message: str) -> ApiError:
    return ApiError(422, f"{field}: {message}", "invalid")


def _text(data: dict, name: str, default: str = "") -> str:
    value = data.get(name, default)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise _invalid(name, "must be a string")
    return value


def _int_or_none(data: dict, name: str, default: int | None = None) -> int | None:
    value = data.get(name, default)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise _invalid(name, "must be a whole number or null")
    return value


def _questions(raw: Any) -> tuple[rules.QuestionInput, ...]:
    if not isinstance(raw, list) or len(raw) > 30:
        raise _invalid("questions", "must be a list of at most 30 objects")
    out = []
    for i, q in enumerate(raw, start=1):
        if not isinstance(q, dict):
            raise _invalid(f"questions[{i}]", "must be an object")
        choices = q.get("choices") or []
        if not isinstance(choices, list) or not all(isinstance(c, str) for c in choices):
            raise _invalid(f"questions[{i}].choices", "must be a list of strings")
        label, kind = q.get("label", ""), q.get("kind", "text")
        if not isinstance(label, str) or not isinstance(kind, str):
            raise _invalid(f"questions[{i}]", "label and kind must be strings")
        out.append(rules.QuestionInput(label=label, kind=kind, choices=tuple(choices),
                                       required=bool(q.get("required", False))))
    return tuple(out)


def _event_input(data: dict[str, Any], event: Event | None) -> rules.EventInput:
    """Merge the body over the event (PATCH) or the defaults (POST) and validate."""
    unknown = sorted(set(data) - set(EVENT_FIELDS))
    if unknown:
        raise ApiError(422, f"unknown fields: {', '.join(unknown)}", "invalid")
    default_tz = event.timezone if event else current_app.config.get(
        "DEFAULT_TIMEZONE", "Europe/Berlin")
    tz_name = _text(data, "timezone", default_tz) or default_tz
    try:
        tz = rules.zone(tz_name)
    except rules.InvalidTimeZone as exc:
        raise _invalid("timezone", str(exc)) from None

    def when(name: str, required: bool) -> datetime | None:
        if name not in data:
            # Not given: keep the stored instant (PATCH); a new event must give start and end.
            if event is None and required:
                raise _invalid(name, "is required (ISO 8601 local time, e.g. 2026-11-05T18:00)")
            return getattr(event, name) if event is not None else None
        if data[name] is None and not required:
            return None
        try:
            return rules.parse_local(data[name], tz)
        except rules.InvalidLocalTime as exc:
            raise _invalid(name, str(exc)) from None

    try:
        cost = rules.parse_cost(data.get("per_attendee_cost", event.per_attendee_cost
                                         if event else None))
    except (InvalidOperation, ValueError):
        raise _invalid("per_attendee_cost", "must be an amount such as \"25.00\"") from None
    current = (lambda n, d: getattr(event, n)) if event else (lambda n, d: d)
    organizer_default = current_app.config.get("MAIL_DEFAULT_SENDER") or ""
    if isinstance(organizer_default, tuple | list):
        organizer_default = organizer_default[1]
    user = g.get("api_user")
    plus_one = data.get("plus_one_allowed", current("plus_one_allowed", False))
    if not isinstance(plus_one, bool):
        raise _invalid("plus_one_allowed", "must be true or false")
    values = rules.EventInput(
        title=_text(data, "title", current("title", "")),
        description=_text(data, "description", current("description", "")),
        venue=_text(data, "venue", current("venue", "")),
        address=_text(data, "address", current("address", "")),
        starts_at=when("starts_at", True), ends_at=when("ends_at", True), timezone=tz.key,
        capacity=_int_or_none(data, "capacity", current("capacity", None)),
        rsvp_deadline=when("rsvp_deadline", False),
        plus_one_allowed=plus_one, per_attendee_cost=cost,
        organizer_name=_text(data, "organizer_name", current(
            "organizer_name", getattr(user, "name", "") or "")),
        organizer_email=_text(data, "organizer_email", current(
            "organizer_email", organizer_default)).strip(),
        reminder_days=_int_or_none(data, "reminder_days", current("reminder_days", None)),
        questions=(_questions(data["questions"]) if "questions" in data else
                   tuple(rules.QuestionInput(q.label, q.kind, tuple(q.choices or ()), q.required)
                         for q in (event.questions if event else []))),
    )
    try:
        return rules.validate_event(values)
    except rules.EventRuleError as exc:
        raise ApiError(422, str(exc), "invalid") from None


def _event(event_id: int) -> Event:
    event = db.session.get(Event, event_id)
    if event is None:
        raise ApiError(404, f"no event with id {event_id}")
    return event


def _counts(event: Event) -> dict[str, int]:
    return services.invitation_counts(db.session, [event.id])[event.id]


@bp.route("/events", methods=["POST"])
@roles_required(Role.MANAGER)
def api_create_event():
    values = _event_input(_body(), None)
    user = g.get("api_user")
    event = services.create_event(db.session, values, now=utcnow(),
                                  base_url=notifications.base_url(),
                                  user_id=getattr(user, "id", None))
    return jsonify(event_json(event)), 201


@bp.route("/events/<int:event_id>", methods=["GET"])
@roles_required(Role.MANAGER, Role.HR)
def api_get_event(event_id: int):
    event = _event(event_id)
    return jsonify(event_json(event, _counts(event)))


@bp.route("/events/<int:event_id>", methods=["PATCH"])
@roles_required(Role.MANAGER)
def api_update_event(event_id: int):
    event = _event(event_id)
    data = _body()
    values = _event_input(data, event)
    try:
        result = services.update_event(db.session, event, values, now=utcnow())
    except services.EventError as exc:
        raise ApiError(409, str(exc), "conflict") from None
    if "capacity" in result.changed:
        rsvp.offer_free_seats(db.session, event, now=utcnow())
    body = event_json(event, _counts(event))
    body["changed"], body["notified"] = result.changed, result.notified
    return jsonify(body)


@bp.route("/events/<int:event_id>/publish", methods=["POST"])
@roles_required(Role.MANAGER)
def api_publish_event(event_id: int):
    event = _event(event_id)
    try:
        services.publish_event(db.session, event, now=utcnow())
    except services.EventError as exc:
        raise ApiError(409, str(exc), "conflict") from None
    return jsonify(event_json(event, _counts(event)))


@bp.route("/events/<int:event_id>/cancel", methods=["POST"])
@roles_required(Role.MANAGER)
def api_cancel_event(event_id: int):
    event = _event(event_id)
    try:
        notified = services.cancel_event(db.session, event, now=utcnow())
    except services.EventError as exc:
        raise ApiError(409, str(exc), "conflict") from None
    body = event_json(event, _counts(event))
    body["notified"] = notified
    return jsonify(body)


@bp.route("/events/<int:event_id>/ics", methods=["GET"])
@roles_required(Role.MANAGER, Role.HR)
def api_event_ics(event_id: int):
    event = _event(event_id)
    data = build_calendar(event, method="PUBLISH", now=utcnow())
    response = Response(data, mimetype="text/calendar")
    response.headers["Content-Type"] = "text/calendar; charset=utf-8; method=PUBLISH"
    response.headers["Content-Disposition"] = f'attachment; filename="event-{event.id}.ics"'
    return response


def _segment_select(raw: Any):
    """A SELECT of member ids from {"segment_id": n} or criteria such as {"min_tier": ...}."""
    try:
        from ..community.segments import services as seg
        from ..community.segments.models import Segment
        from ..community.segments.rules import criteria_from_dict
    except ImportError:  # pragma: no cover - segments ship with the app
        raise ApiError(422, "segments are not available", "invalid") from None
    if not isinstance(raw, dict):
        raise _invalid("segment", "must be an object")
    try:
        if "segment_id" in raw:
            if len(raw) != 1 or isinstance(raw["segment_id"], bool) or not isinstance(
                    raw["segment_id"], int):
                raise _invalid("segment", "give either segment_id (a number) or criteria")
            segment = db.session.get(Segment, raw["segment_id"])
            if segment is None:
                raise ApiError(422, f"no saved segment with id {raw['segment_id']}", "invalid")
            criteria = seg.criteria_of(segment)
        else:
            data = dict(raw)
            if "min_tier" in data:  # the SPEC's name: a tier name, meaning "this tier or higher"
                from ..community.models import Tier
                name = data.pop("min_tier")
                rank = db.session.scalar(select(Tier.rank).where(
                    func.lower(Tier.name) == str(name).lower()))
                if rank is None:
                    raise ApiError(422, f"unknown tier {name!r}", "invalid")
                data["min_tier_rank"] = rank
            criteria = criteria_from_dict(data)
        criteria = seg.validate_extras(criteria)
        seg.check_tiers_exist(db.session, criteria)
        return seg.segment_query(db.session, criteria)
    except seg.InvalidCriteria as exc:
        raise _invalid("segment", str(exc)) from None


@bp.route("/events/<int:event_id>/invitations", methods=["POST"])
@roles_required(Role.MANAGER)
def api_invite(event_id: int):
    event = _event(event_id)
    data = _body()
    if ("member_ids" in data) == ("segment" in data):
        raise ApiError(422, "give either member_ids or segment", "invalid")
    kwargs: dict[str, Any] = {}
    if "member_ids" in data:
        ids = data["member_ids"]
        if (not isinstance(ids, list) or not ids or len(ids) > 100_000 or not all(
                isinstance(i, int) and not isinstance(i, bool) for i in ids)):
            raise _invalid("member_ids", "must be a non-empty list of member ids")
        kwargs["member_ids"] = ids
    else:
        kwargs["member_query"] = _segment_select(data["segment"])
    try:
        result = services.invite(db.session, event, now=utcnow(), **kwargs)
    except services.EventError as exc:
        raise ApiError(409, str(exc), "conflict") from None
    return jsonify({
        "created": result.created,
        "skipped": [{"member_id": s.member_id, "reason": s.reason} for s in result.skipped],
        "skipped_counts": result.counts(),
    }), 201 if result.created else 200


@bp.route("/events/<int:event_id>/invitations", methods=["GET"])
@roles_required(Role.MANAGER, Role.HR)
def api_list_invitations(event_id: int):
    event = _event(event_id)
    page = page_args()
    total = db.session.scalar(select(func.count()).select_from(Invitation).where(
        Invitation.event_id == event.id)) or 0
    rows = db.session.scalars(select(Invitation).where(Invitation.event_id == event.id)
                              .order_by(Invitation.id).limit(page.per_page)
                              .offset(page.offset)).all()
    return jsonify({"items": [invitation_json(r) for r in rows], "total": total})


def invitation_json(r: Invitation) -> dict[str, Any]:
    return {
        "id": r.id, "event_id": r.event_id, "member_id": r.member_id, "status": str(r.status),
        "waitlist_position": r.waitlist_position, "responded_at": _iso_utc(r.responded_at),
        "checked_in_at": _iso_utc(r.checked_in_at), "created_at": _iso_utc(r.created_at),
        "plus_one": bool(r.plus_one), "answers": r.answers or {},
        "offer_expires_at": _iso_utc(r.offer_expires_at), "source": r.rsvp_source,
    }


@bp.route("/invitations/<int:invitation_id>/rsvp", methods=["POST"])
@roles_required(Role.MANAGER)
def api_rsvp(invitation_id: int):
    """Answer on a member's behalf (audited as the token's user, source "api")."""
    invitation = db.session.get(Invitation, invitation_id)
    if invitation is None:
        raise ApiError(404, f"no invitation with id {invitation_id}")
    data = _body()
    status = data.get("status")
    if status not in ("accepted", "tentative", "declined"):
        raise _invalid("status", "must be accepted, tentative or declined")
    plus_one = data.get("plus_one")
    if plus_one is not None and not isinstance(plus_one, bool):
        raise _invalid("plus_one", "must be true or false")
    answers = data.get("answers")
    if answers is not None and (not isinstance(answers, dict) or not all(
            isinstance(v, str | int | float) for v in answers.values())):
        raise _invalid("answers", "must be an object {question id: answer}")
    try:
        result = rsvp.respond(db.session, invitation, status, now=utcnow(), answers=answers,
                              plus_one=plus_one, source="api")
    except rsvp.RsvpClosed as exc:
        raise ApiError(409, str(exc), "closed") from None
    except rsvp.RsvpNotAllowed as exc:
        raise ApiError(409, str(exc), "conflict") from None
    except rsvp.RsvpInvalid as exc:
        raise ApiError(422, str(exc), "invalid") from None
    body = invitation_json(invitation)
    body["changed"], body["offered"] = result.changed, result.promoted
    return jsonify(body)


from . import api_docs  # noqa: E402,F401  (documents these routes in the OpenAPI document)
