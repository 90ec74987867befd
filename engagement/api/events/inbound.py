"""API: `POST /api/v1/inbound/mail` — mail providers that forward inbound mail post it here raw.

Authenticated like the rest of the API: the bearer token of a manager (or admin) user, so a
leaked token is revoked in the UI like any other. The answer is 200 even when the mail was
ignored or skipped: providers retry non-2xx answers, and a mail that is not a reply will
never become one.
"""
from __future__ import annotations

from flask import current_app, jsonify, request

from ...events.calendar import inbound
from ...extensions import db
from ...security import Role, roles_required
from ...timeutil import utcnow
from ..blueprint import bp
from ..errors import ApiError
from ..openapi import SCHEMAS, describe, json_response, ref

SCHEMAS["InboundOutcome"] = {
    "type": "object", "required": ["result", "message_id", "reason"],
    "properties": {
        "result": {"type": "string", "enum": ["applied", "ignored", "skipped"]},
        "message_id": {"type": "string"},
        "reason": {"type": ["string", "null"], "description": (
            "Why not applied. skipped: not_calendar, no_method, invalid_calendar, not_reply "
            "(REQUEST, CANCEL, COUNTER, ...), no_vevent, unreadable. ignored: unknown_uid, "
            "occurrence, no_attendee, sender_mismatch, unrecorded_delegate (SENT-BY an address "
            "not recorded for the member), auth_failed (the trusted receiving server says "
            "DMARC, or DKIM and SPF, failed), auth_required (INBOUND_REQUIRE_AUTH and no "
            "trusted pass), not_invited, ambiguous_attendee, "
            "outdated (older SEQUENCE), unsupported_partstat (DELEGATED, NEEDS-ACTION), stale "
            "(older than the last answer), unchanged, rsvp_closed, rsvp_not_allowed, "
            "rsvp_invalid."),
            "examples": ["unknown_uid"]},
        "detail": {"type": "string"},
        "uid": {"type": ["string", "null"]},
        "attendee": {"type": ["string", "null"], "format": "email"},
        "partstat": {"type": ["string", "null"]},
        "invitation_id": {"type": ["integer", "null"]},
        "status": {"type": ["string", "null"],
                   "description": "The invitation's status afterwards (applied only)."},
        "sender": {"type": ["string", "null"], "description": "The mail's From address."},
        "event_id": {"type": ["integer", "null"]},
        "auth": {"type": "string", "description": (
            "What the trusted receiving server (INBOUND_AUTHSERV_ID) wrote in "
            "Authentication-Results; empty when it said nothing.")},
    },
}
SCHEMAS["InboundResult"] = {
    "type": "object", "required": ["message_id", "counts", "outcomes"],
    "properties": {
        "message_id": {"type": "string"},
        "counts": {"type": "object", "properties": {
            "applied": {"type": "integer"}, "ignored": {"type": "integer"},
            "skipped": {"type": "integer"}}},
        "outcomes": {"type": "array", "items": ref("schemas", "InboundOutcome")},
    },
}


def _max_bytes() -> int:
    return int(current_app.config["INBOUND_MAIL_MAX_BYTES"])


@bp.post("/inbound/mail")
@describe({
    "operationId": "ingestInboundMail",
    "summary": "Apply calendar replies (iMIP METHOD:REPLY) in a raw mail",
    "description": "For mail providers that post inbound mail. The body is the complete "
                   "RFC 822 message. ACCEPTED/TENTATIVE/DECLINED from the invited attendee "
                   "(the mail's From, or a delegate recorded for the member named in "
                   "SENT-BY) count like an online RSVP, with the same capacity and "
                   "deadline rules. Answers 200 with one outcome per reply, also when "
                   "nothing was applied. Every outcome is kept in the event's "
                   "reply log (`/events/<id>/replies`).",
    "tags": ["events"],
    "requestBody": {"required": True, "content": {"message/rfc822": {
        "schema": {"type": "string", "format": "binary"}}}},
    "responses": {
        "200": json_response("What happened to each reply.", ref("schemas", "InboundResult")),
        "400": ref("responses", "BadRequest"),
        "413": json_response("Larger than INBOUND_MAIL_MAX_BYTES (default 10 MB).",
                             ref("schemas", "Error")),
        "415": json_response("Not message/rfc822.", ref("schemas", "Error")),
    },
})
@roles_required(Role.MANAGER)
def inbound_mail():
    """Apply the calendar replies in one raw RFC 822 message."""
    if request.mimetype != "message/rfc822":
        raise ApiError(415, "send the raw mail with Content-Type: message/rfc822",
                       "unsupported_media_type")
    limit = _max_bytes()
    if request.content_length is not None and request.content_length > limit:
        raise ApiError(413, f"the mail is larger than {limit} bytes")
    raw = request.stream.read(limit + 1)
    if len(raw) > limit:
        raise ApiError(413, f"the mail is larger than {limit} bytes")
    if not raw.strip():
        raise ApiError(400, "the body is empty; send the raw mail")
    outcomes = inbound.ingest_message(db.session, raw, now=utcnow(), label="", source="api")
    return jsonify({"message_id": outcomes[0].message_id if outcomes else "",
                    "counts": inbound.counts(outcomes),
                    "outcomes": [o.as_json() for o in outcomes]})

