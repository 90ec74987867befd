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
                   "ticket's QR code) or `invitation_id`. Idempotent: a second check-in "
                   "answers 200 with the first `checked_in_at`. 409 when the invitation is "
                   "not accepted, the event is cancelled or the token has expired.",
    "tags": ["events"],
    "requestBody": {"required": True, "content": {"application/json": {"schema": {
        "type": "object", "additionalProperties": False,
        "properties": {"token": {"type": "string"}, "invitation_id": {"type": "integer"}},
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
    if (token is None) == (invitation_id is None):
        raise ApiError(422, "give exactly one of token or invitation_id", "invalid")
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
        checkin.check_in(db.session, inv, now=now, source="api")
    except checkin.CheckinError as exc:
        raise ApiError(409, f"cannot check in: {exc}", exc.code) from None
    body = invitation_json(inv)
    body["walk_in"] = bool(inv.walk_in)
    return jsonify(body)
