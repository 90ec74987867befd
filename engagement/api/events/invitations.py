"""API: invitations — invite members or a segment, list them, answer on a member's behalf."""
from __future__ import annotations

from typing import Any

from flask import jsonify
from sqlalchemy import select

from ...community.segments import services as seg
from ...db import paginate
from ...events import services
from ...events.models import Invitation, InvitationStatus
from ...events.rsvp import services as rsvp
from ...extensions import db
from ...security import Role, roles_required
from ...timeutil import utcnow
from ..blueprint import bp
from ..errors import ApiError
from ..fields import invalid, is_record_id, iso_utc, json_body
from ..openapi import PAGING, PARAMETERS, SCHEMAS, describe, json_response, list_envelope, ref
from ..pagination import list_body, page_args
from .events import ERRORS, ONE_EVENT, event_or_404

# What a manager may answer for a member (the other states follow from seats and offers).
ANSWERS = (InvitationStatus.ACCEPTED, InvitationStatus.TENTATIVE, InvitationStatus.DECLINED)

SCHEMAS["InviteRequest"] = {
    "type": "object",
    "description": "Either member_ids or segment.",
    "properties": {
        "member_ids": {"type": "array", "items": {"type": "integer"}},
        "segment": {"type": "object", "description": (
            "{\"segment_id\": n} for a saved segment, or criteria: tiers, min_tier (a tier "
            "name: that tier or higher), min_tier_rank, metrics, regions, locales, "
            "active_within_days, has_email, extra.")},
    },
}
SCHEMAS["InviteResult"] = {
    "type": "object", "required": ["created", "skipped"],
    "properties": {
        "created": {"type": "integer"},
        "skipped": {"type": "array", "items": {
            "type": "object", "properties": {
                "member_id": {"type": ["integer", "null"]},
                "reason": {"type": "string", "enum": [
                    "not_found", "no_email", "invalid_email", "opted_out",
                    "already_invited"]}}}},
        "skipped_counts": {"type": "object", "additionalProperties": {"type": "integer"}},
    },
}
SCHEMAS["Invitation"] = {
    "type": "object",
    "required": ["id", "member_id", "status", "waitlist_position", "responded_at",
                 "checked_in_at"],
    "properties": {
        "id": {"type": "integer"}, "member_id": {"type": "integer"},
        "status": {"type": "string", "enum": [s.value for s in InvitationStatus]},
        "waitlist_position": {"type": ["integer", "null"]},
        "responded_at": {"type": ["string", "null"], "format": "date-time"},
        "checked_in_at": {"type": ["string", "null"], "format": "date-time"},
        "created_at": {"type": "string", "format": "date-time"},
        "event_id": {"type": "integer"},
        "plus_one": {"type": "boolean"},
        "answers": {"type": "object", "additionalProperties": {"type": "string"},
                    "description": "Answers to the event's questions by question id."},
        "offer_expires_at": {"type": ["string", "null"], "format": "date-time",
                             "description": "A waitlisted person's offered seat is held "
                                            "until then."},
        "source": {"type": ["string", "null"],
                   "description": "How the last answer came: web, api, manager, calendar."},
        "changed": {"type": "boolean", "description": "Only in the RSVP response."},
        "offered": {"type": "array", "items": {"type": "integer"},
                    "description": "Only in the RSVP response: invitations offered a seat "
                                   "freed by this answer."},
    },
}
SCHEMAS["RsvpRequest"] = {
    "type": "object", "required": ["status"],
    "properties": {
        "status": {"type": "string", "enum": [s.value for s in ANSWERS]},
        "plus_one": {"type": "boolean", "description": "Only where the event allows it."},
        "answers": {"type": "object", "additionalProperties": {"type": "string"},
                    "description": "{question id: answer}; omitted keeps earlier answers."},
    },
}
SCHEMAS["InvitationList"] = list_envelope("Invitation")
PARAMETERS["invitation_id"] = {"name": "invitation_id", "in": "path", "required": True,
                               "schema": {"type": "integer"}}


def invitation_json(r: Invitation) -> dict[str, Any]:
    """The API shape of an invitation."""
    return {
        "id": r.id, "event_id": r.event_id, "member_id": r.member_id, "status": str(r.status),
        "waitlist_position": r.waitlist_position, "responded_at": iso_utc(r.responded_at),
        "checked_in_at": iso_utc(r.checked_in_at), "created_at": iso_utc(r.created_at),
        "plus_one": bool(r.plus_one), "answers": r.answers or {},
        "offer_expires_at": iso_utc(r.offer_expires_at), "source": r.rsvp_source,
    }


def _segment_select(raw: Any):
    """A SELECT of member ids from {"segment_id": n} or criteria such as {"min_tier": ...}."""
    if not isinstance(raw, dict):
        raise invalid("segment", "must be an object")
    if "segment_id" in raw and (len(raw) != 1 or not is_record_id(raw["segment_id"])):
        raise invalid("segment", "give either segment_id (a number) or criteria")
    try:
        return seg.resolve_segment(db.session, raw.get("segment_id", raw))
    except seg.InvalidCriteria as exc:
        raise invalid("segment", str(exc)) from None


@bp.route("/events/<int:event_id>/invitations", methods=["POST"])
@describe({
    "operationId": "inviteToEvent", "summary": "Invite members or a segment",
    "description": "Skips members without e-mail, opted out of event invitations, or already "
                   "invited, and says so. Only published events.",
    "tags": ["events"], "parameters": ONE_EVENT,
    "requestBody": {"required": True, "content": {"application/json": {
        "schema": ref("schemas", "InviteRequest")}}},
    "responses": {"201": json_response("Invitations created.", ref("schemas", "InviteResult")),
                  "200": json_response("Nobody new to invite.", ref("schemas", "InviteResult")),
                  "400": ref("responses", "BadRequest"), **ERRORS},
})
@roles_required(Role.MANAGER)
def api_invite(event_id: int):
    event = event_or_404(event_id)
    data = json_body()
    if ("member_ids" in data) == ("segment" in data):
        raise ApiError(422, "give either member_ids or segment", "invalid")
    kwargs: dict[str, Any] = {}
    if "member_ids" in data:
        ids = data["member_ids"]
        if (not isinstance(ids, list) or not ids or len(ids) > 100_000
                or not all(is_record_id(i) for i in ids)):
            raise invalid("member_ids", "must be a non-empty list of member ids")
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
@describe({
    "operationId": "listInvitations", "summary": "The event's invitations",
    "tags": ["events"],
    "parameters": ONE_EVENT + PAGING,
    "responses": {"200": json_response("A page of invitations.",
                                       ref("schemas", "InvitationList")),
                  "400": ref("responses", "BadRequest"), "404": ERRORS["404"]},
})
@roles_required(Role.MANAGER, Role.HR)
def api_list_invitations(event_id: int):
    event = event_or_404(event_id)
    page = page_args()
    rows = paginate(db.session, select(Invitation).where(Invitation.event_id == event.id)
                    .order_by(Invitation.id), page=page.page, per_page=page.per_page)
    return jsonify(list_body([invitation_json(r) for r in rows.items], rows.total, page))


@bp.route("/invitations/<int:invitation_id>/rsvp", methods=["POST"])
@describe({
    "operationId": "rsvpInvitation", "summary": "Answer an invitation on a member's behalf",
    "description": "Same rules as the member's own answer: capacity (accepts beyond it are "
                   "waitlisted with a position), deadline (409 `closed`), confirmation mail "
                   "with the updated calendar item; audited.",
    "tags": ["events"], "parameters": [ref("parameters", "invitation_id")],
    "requestBody": {"required": True, "content": {"application/json": {
        "schema": ref("schemas", "RsvpRequest")}}},
    "responses": {"200": json_response("The invitation after the answer.",
                                       ref("schemas", "Invitation")),
                  "400": ref("responses", "BadRequest"), **ERRORS},
})
@roles_required(Role.MANAGER)
def api_rsvp(invitation_id: int):
    """Answer on a member's behalf (audited as the token's user, source "api")."""
    invitation = db.session.get(Invitation, invitation_id)
    if invitation is None:
        raise ApiError(404, f"no invitation with id {invitation_id}")
    data = json_body()
    status = data.get("status")
    if status not in {s.value for s in ANSWERS}:
        raise invalid("status", "must be accepted, tentative or declined")
    plus_one = data.get("plus_one")
    if plus_one is not None and not isinstance(plus_one, bool):
        raise invalid("plus_one", "must be true or false")
    answers = data.get("answers")
    if answers is not None and (not isinstance(answers, dict) or not all(
            isinstance(v, str | int | float) for v in answers.values())):
        raise invalid("answers", "must be an object {question id: answer}")
    try:
        result = rsvp.respond(db.session, invitation, status, now=utcnow(), answers=answers,
                              plus_one=plus_one, source="api", by_manager=True)
    except rsvp.RsvpClosed as exc:
        raise ApiError(409, str(exc), "closed") from None
    except rsvp.RsvpNotAllowed as exc:
        raise ApiError(409, str(exc), "conflict") from None
    except rsvp.RsvpInvalid as exc:
        raise ApiError(422, str(exc), "invalid") from None
    body = invitation_json(invitation)
    body["changed"], body["offered"] = result.changed, result.promoted
    return jsonify(body)
