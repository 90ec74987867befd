"""API: events — create, read, change, publish, cancel, iCalendar (SPEC §4a)."""
from __future__ import annotations

from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo

from flask import Response, current_app, g, jsonify

from ...events import notifications, rules, services
from ...events.calendar.ics import build_calendar
from ...events.models import Event, EventStatus
from ...events.rsvp import services as rsvp
from ...extensions import db
from ...security import Role, roles_required
from ...timeutil import utcnow
from ..blueprint import bp
from ..errors import ApiError
from ..fields import int_or_none, invalid, iso_utc, json_body, text
from ..openapi import PARAMETERS, SCHEMAS, describe, json_response, ref

EVENT_FIELDS = ("title", "description", "venue", "address", "starts_at", "ends_at", "timezone",
                "capacity", "rsvp_deadline", "plus_one_allowed", "per_attendee_cost",
                "organizer_name", "organizer_email", "reminder_days", "questions")

LOCAL = ("ISO 8601 local time in `timezone`, e.g. 2026-11-05T18:00; an explicit offset is "
         "needed only for the repeated hour when daylight saving time ends. Answers carry "
         "the offset.")

SCHEMAS["Question"] = {
    "type": "object", "required": ["label", "kind"],
    "properties": {"id": {"type": "integer", "readOnly": True},
                   "label": {"type": "string", "maxLength": 255},
                   "kind": {"type": "string", "enum": ["text", "choice"]},
                   "choices": {"type": "array", "items": {"type": "string"}},
                   "required": {"type": "boolean", "default": False}},
}
_EVENT_PROPS = {
    "title": {"type": "string", "maxLength": 200},
    "description": {"type": "string"},
    "venue": {"type": "string", "maxLength": 200},
    "address": {"type": "string"},
    "starts_at": {"type": "string", "description": LOCAL},
    "ends_at": {"type": "string", "description": LOCAL},
    "timezone": {"type": "string", "description": "IANA name; default Europe/Berlin.",
                 "examples": ["Europe/Berlin"]},
    "capacity": {"type": ["integer", "null"], "minimum": 1},
    "rsvp_deadline": {"type": ["string", "null"], "description": LOCAL},
    "plus_one_allowed": {"type": "boolean"},
    "per_attendee_cost": {"type": ["string", "null"], "examples": ["45.00"],
                          "description": "Decimal amount (EUR) for tax reporting."},
    "organizer_name": {"type": "string"},
    "organizer_email": {"type": "string", "format": "email",
                        "description": "ORGANIZER of the invitations; receives calendar "
                                       "replies. Default: the mail sender."},
    "reminder_days": {"type": ["integer", "null"], "minimum": 1, "maximum": 60,
                      "description": "Send a reminder this many days before the start."},
    "questions": {"type": "array", "items": ref("schemas", "Question")},
}
SCHEMAS["EventInput"] = {"type": "object", "additionalProperties": False,
                         "properties": _EVENT_PROPS}
SCHEMAS["Event"] = {
    "type": "object",
    "required": ["id", "uid", "sequence", "status", "title", "starts_at", "ends_at", "timezone"],
    "properties": {
        "id": {"type": "integer"},
        "uid": {"type": "string", "description": "iCalendar UID; never changes."},
        "sequence": {"type": "integer", "description": "iCalendar SEQUENCE; +1 per update sent."},
        "status": {"type": "string", "enum": [s.value for s in EventStatus]},
        **_EVENT_PROPS,
        "invitations": {"type": "object", "additionalProperties": {"type": "integer"},
                        "description": "Invitation counts by status, plus total."},
        "changed": {"type": "array", "items": {"type": "string"},
                    "description": "PATCH only: the fields that changed."},
        "notified": {"type": "integer", "description": "PATCH/cancel: mails queued."},
        "created_at": {"type": "string", "format": "date-time"},
        "published_at": {"type": ["string", "null"], "format": "date-time"},
        "cancelled_at": {"type": ["string", "null"], "format": "date-time"},
    },
}
PARAMETERS["event_id"] = {"name": "event_id", "in": "path", "required": True,
                          "schema": {"type": "integer"}}

# Shared by the events resources (invitations, check-ins).
ERRORS = {"404": ref("responses", "NotFound"),
          "409": json_response("Not possible in the event's state.", ref("schemas", "Error")),
          "422": json_response("Invalid values.", ref("schemas", "Error"))}
ONE_EVENT = [ref("parameters", "event_id")]
_BODY = {"required": True, "content": {"application/json": {
    "schema": ref("schemas", "EventInput")}}}
_THE_EVENT = json_response("The event.", ref("schemas", "Event"))


def _iso_local(value: datetime | None, tz_name: str) -> str | None:
    return None if value is None else rules.to_local(value, tz_name).isoformat()


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
        "created_at": iso_utc(event.created_at), "published_at": iso_utc(event.published_at),
        "cancelled_at": iso_utc(event.cancelled_at),
    }


def _questions(raw: Any) -> tuple[rules.QuestionInput, ...]:
    if not isinstance(raw, list) or len(raw) > 30:
        raise invalid("questions", "must be a list of at most 30 objects")
    out = []
    for i, q in enumerate(raw, start=1):
        if not isinstance(q, dict):
            raise invalid(f"questions[{i}]", "must be an object")
        choices = q.get("choices") or []
        if not isinstance(choices, list) or not all(isinstance(c, str) for c in choices):
            raise invalid(f"questions[{i}].choices", "must be a list of strings")
        label, kind = q.get("label", ""), q.get("kind", "text")
        if not isinstance(label, str) or not isinstance(kind, str):
            raise invalid(f"questions[{i}]", "label and kind must be strings")
        out.append(rules.QuestionInput(label=label, kind=kind, choices=tuple(choices),
                                       required=bool(q.get("required", False))))
    return tuple(out)


def _zone(data: dict[str, Any], event: Event | None) -> ZoneInfo:
    default_tz = event.timezone if event else current_app.config[
        "DEFAULT_TIMEZONE"]
    tz_name = text(data, "timezone", default_tz) or default_tz
    try:
        return rules.zone(tz_name)
    except rules.InvalidTimeZone as exc:
        raise invalid("timezone", str(exc)) from None


def _when(data: dict[str, Any], event: Event | None, tz: ZoneInfo, name: str,
          required: bool) -> datetime | None:
    if name not in data:
        # Not given: keep the stored instant (PATCH); a new event must give start and end.
        if event is None and required:
            raise invalid(name, "is required (ISO 8601 local time, e.g. 2026-11-05T18:00)")
        return getattr(event, name) if event is not None else None
    if data[name] is None and not required:
        return None
    try:
        return rules.parse_local(data[name], tz)
    except rules.InvalidLocalTime as exc:
        raise invalid(name, str(exc)) from None


def _cost(data: dict[str, Any], event: Event | None) -> Decimal | None:
    try:
        return rules.parse_cost(data.get("per_attendee_cost", event.per_attendee_cost
                                         if event else None))
    except (InvalidOperation, ValueError):
        raise invalid("per_attendee_cost", "must be an amount such as \"25.00\"") from None


def _organizer_email_default() -> str:
    sender = current_app.config["MAIL_DEFAULT_SENDER"] or ""
    return sender[1] if isinstance(sender, tuple | list) else sender


def _event_input(data: dict[str, Any], event: Event | None) -> rules.EventInput:
    """Merge the body over the event (PATCH) or the defaults (POST) and validate."""
    unknown = sorted(set(data) - set(EVENT_FIELDS))
    if unknown:
        raise ApiError(422, f"unknown fields: {', '.join(unknown)}", "invalid")
    tz = _zone(data, event)
    cost = _cost(data, event)
    current = (lambda n, d: getattr(event, n)) if event else (lambda n, d: d)
    user = g.get("api_user")
    plus_one = data.get("plus_one_allowed", current("plus_one_allowed", False))
    if not isinstance(plus_one, bool):
        raise invalid("plus_one_allowed", "must be true or false")
    values = rules.EventInput(
        title=text(data, "title", current("title", "")),
        description=text(data, "description", current("description", "")),
        venue=text(data, "venue", current("venue", "")),
        address=text(data, "address", current("address", "")),
        starts_at=_when(data, event, tz, "starts_at", True),
        ends_at=_when(data, event, tz, "ends_at", True), timezone=tz.key,
        capacity=int_or_none(data, "capacity", current("capacity", None)),
        rsvp_deadline=_when(data, event, tz, "rsvp_deadline", False),
        plus_one_allowed=plus_one, per_attendee_cost=cost,
        organizer_name=text(data, "organizer_name", current(
            "organizer_name", getattr(user, "name", "") or "")),
        organizer_email=text(data, "organizer_email", current(
            "organizer_email", _organizer_email_default())).strip(),
        reminder_days=int_or_none(data, "reminder_days", current("reminder_days", None)),
        questions=(_questions(data["questions"]) if "questions" in data else
                   tuple(rules.QuestionInput(q.label, q.kind, tuple(q.choices or ()), q.required)
                         for q in (event.questions if event else []))),
    )
    try:
        return rules.validate_event(values)
    except rules.EventRuleError as exc:
        raise ApiError(422, str(exc), "invalid") from None


def event_or_404(event_id: int) -> Event:
    """The event with `event_id`; a 404 otherwise."""
    event = db.session.get(Event, event_id)
    if event is None:
        raise ApiError(404, f"no event with id {event_id}")
    return event


def _counts(event: Event) -> dict[str, int]:
    return services.invitation_counts(db.session, [event.id])[event.id]


@bp.route("/events", methods=["POST"])
@describe({
    "operationId": "createEvent", "summary": "Create an event (draft)", "tags": ["events"],
    "requestBody": _BODY,
    "responses": {"201": json_response("The new event.", ref("schemas", "Event")),
                  "400": ref("responses", "BadRequest"), "422": ERRORS["422"]},
})
@roles_required(Role.MANAGER)
def api_create_event():
    values = _event_input(json_body(), None)
    user = g.get("api_user")
    event = services.create_event(db.session, values, now=utcnow(),
                                  base_url=notifications.base_url(),
                                  user_id=getattr(user, "id", None))
    return jsonify(event_json(event)), 201


@bp.route("/events/<int:event_id>", methods=["GET"])
@describe({
    "operationId": "getEvent", "summary": "One event with invitation counts",
    "tags": ["events"], "parameters": ONE_EVENT,
    "responses": {"200": _THE_EVENT, "404": ERRORS["404"]},
})
@roles_required(Role.MANAGER, Role.HR)
def api_get_event(event_id: int):
    event = event_or_404(event_id)
    return jsonify(event_json(event, _counts(event)))


@bp.route("/events/<int:event_id>", methods=["PATCH"])
@describe({
    "operationId": "updateEvent", "summary": "Change an event",
    "description": "Fields not given keep their value. When a published event's title, "
                   "description, time, place or organizer changes, everyone invited and not "
                   "declined gets an update (same UID, SEQUENCE+1).",
    "tags": ["events"], "parameters": ONE_EVENT, "requestBody": _BODY,
    "responses": {"200": json_response("The changed event.", ref("schemas", "Event")),
                  "400": ref("responses", "BadRequest"), **ERRORS},
})
@roles_required(Role.MANAGER)
def api_update_event(event_id: int):
    event = event_or_404(event_id)
    data = json_body()
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
@describe({
    "operationId": "publishEvent", "summary": "Publish a draft (invitations possible)",
    "tags": ["events"], "parameters": ONE_EVENT,
    "responses": {"200": _THE_EVENT, "404": ERRORS["404"], "409": ERRORS["409"]},
})
@roles_required(Role.MANAGER)
def api_publish_event(event_id: int):
    event = event_or_404(event_id)
    try:
        services.publish_event(db.session, event, now=utcnow())
    except services.EventError as exc:
        raise ApiError(409, str(exc), "conflict") from None
    return jsonify(event_json(event, _counts(event)))


@bp.route("/events/<int:event_id>/cancel", methods=["POST"])
@describe({
    "operationId": "cancelEvent", "summary": "Cancel an event (METHOD:CANCEL mails)",
    "tags": ["events"], "parameters": ONE_EVENT,
    "responses": {"200": _THE_EVENT, "404": ERRORS["404"], "409": ERRORS["409"]},
})
@roles_required(Role.MANAGER)
def api_cancel_event(event_id: int):
    event = event_or_404(event_id)
    try:
        notified = services.cancel_event(db.session, event, now=utcnow())
    except services.EventError as exc:
        raise ApiError(409, str(exc), "conflict") from None
    body = event_json(event, _counts(event))
    body["notified"] = notified
    return jsonify(body)


@bp.route("/events/<int:event_id>/ics", methods=["GET"])
@describe({
    "operationId": "getEventIcs", "summary": "The event as iCalendar (METHOD:PUBLISH)",
    "tags": ["events"], "parameters": ONE_EVENT,
    "responses": {"200": {"description": "text/calendar",
                          "content": {"text/calendar": {"schema": {"type": "string"}}}},
                  "404": ERRORS["404"]},
})
@roles_required(Role.MANAGER, Role.HR)
def api_event_ics(event_id: int):
    event = event_or_404(event_id)
    data = build_calendar(event, method="PUBLISH", now=utcnow())
    response = Response(data, mimetype="text/calendar")
    response.headers["Content-Type"] = "text/calendar; charset=utf-8; method=PUBLISH"
    response.headers["Content-Disposition"] = f'attachment; filename="event-{event.id}.ics"'
    return response
