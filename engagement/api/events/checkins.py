"""API: `POST /api/v1/checkins` (SPEC §4a) — check an invitation in by scan token or id."""
from __future__ import annotations

from flask import jsonify

from ... import signing
from ...events.checkin import services as checkin
from ...events.models import Invitation
from ...extensions import db
from ...security import Role, roles_required
from ...timeutil import utcnow
from ..blueprint import bp
from ..errors import ApiError
from ..fields import is_record_id, json_body
from ..openapi import describe, json_response, ref
from .events import ERRORS
from .invitations import invitation_json


@bp.route("/checkins", methods=["POST"])
@describe({
    "operationId": "checkIn", "summary": "Check an invitation in at the door",
    "description": "Give `token` (the signed part of the scan URL `/checkin/<token>` in the "
                   "ticket's QR code) or `invitation_id`, and the `event_id` whose door "
                   "this is (a ticket of another event is refused). Idempotent: a second "
                   "check-in answers 200 with the first `checked_in_at` and "
                   "`already_checked_in: true`. 409 when the invitation is not accepted, "
                   "the event is cancelled, the ticket is for another event (`wrong_event`) "
                   "or check-in is not open: it opens CHECKIN_OPENS_HOURS before the start "
                   "(`not_open`) and closes CHECKIN_GRACE_HOURS after the end (`closed`; "
                   "`expired` for a token), the same window as the scan page and door list.",
    "tags": ["events"],
    "requestBody": {"required": True, "content": {"application/json": {"schema": {
        "type": "object", "additionalProperties": False,
        "properties": {"token": {"type": "string"}, "invitation_id": {"type": "integer"},
                       "event_id": {"type": "integer", "description": (
                           "The event being checked in; the invitation must belong to it.")}},
        "oneOf": [{"required": ["token"]}, {"required": ["invitation_id"]}]}}}},
    "responses": {"200": json_response("The invitation, `checked_in_at` set.",
                                       ref("schemas", "Invitation")),
                  "400": ref("responses", "BadRequest"), **ERRORS},
})
@roles_required(Role.MANAGER)
def api_check_in():
    """Idempotent: checking in twice answers 200 with the first check-in time."""
    data = json_body()
    token, invitation_id = data.get("token"), data.get("invitation_id")
    event_id = data.get("event_id")
    if (token is None) == (invitation_id is None):
        raise ApiError(422, "give exactly one of token or invitation_id", "invalid")
    if event_id is not None and (not isinstance(event_id, int) or isinstance(event_id, bool)):
        raise ApiError(422, "event_id: must be an integer", "invalid")
    now = utcnow()
    if token is not None:
        if not isinstance(token, str) or not token:
            raise ApiError(422, "token: must be a non-empty string", "invalid")
        try:
            inv = checkin.load_by_token(db.session, token, now=now)
        except signing.LinkInvalid:
            raise ApiError(404, "no invitation for this check-in token") from None
        except checkin.CheckinError as exc:
            raise ApiError(409, "this check-in token has expired", exc.code) from None
    else:
        if not is_record_id(invitation_id):
            raise ApiError(422, "invitation_id: must be a positive integer id", "invalid")
        inv = db.session.get(Invitation, invitation_id)
        if inv is None:
            raise ApiError(404, f"no invitation with id {invitation_id}")
    try:
        new = checkin.check_in(db.session, inv, now=now, source="api", event_id=event_id)
    except checkin.CheckinError as exc:
        raise ApiError(409, f"cannot check in: {exc}", exc.code) from None
    body = invitation_json(inv)
    body["walk_in"] = bool(inv.walk_in)
    body["already_checked_in"] = not new
    return jsonify(body)
