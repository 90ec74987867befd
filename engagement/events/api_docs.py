"""OpenAPI description of the events endpoints (registered with engagement.api.openapi)."""
from __future__ import annotations

from ..api.openapi import PARAMETERS, SCHEMAS, add_operation, json_response, list_envelope, ref

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
        "status": {"type": "string", "enum": ["draft", "published", "cancelled"]},
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
                "reason": {"type": "string", "enum": ["not_found", "no_email", "opted_out",
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
        "status": {"type": "string", "enum": ["invited", "accepted", "tentative", "declined",
                                              "waitlisted", "cancelled"]},
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
        "status": {"type": "string", "enum": ["accepted", "tentative", "declined"]},
        "plus_one": {"type": "boolean", "description": "Only where the event allows it."},
        "answers": {"type": "object", "additionalProperties": {"type": "string"},
                    "description": "{question id: answer}; omitted keeps earlier answers."},
    },
}
PARAMETERS["invitation_id"] = {"name": "invitation_id", "in": "path", "required": True,
                               "schema": {"type": "integer"}}
SCHEMAS["InvitationList"] = list_envelope("Invitation")
PARAMETERS["event_id"] = {"name": "event_id", "in": "path", "required": True,
                          "schema": {"type": "integer"}}

_ERR = {"404": ref("responses", "NotFound"),
        "409": json_response("Not possible in the event's state.", ref("schemas", "Error")),
        "422": json_response("Invalid values.", ref("schemas", "Error"))}
_BODY = {"required": True, "content": {"application/json": {
    "schema": ref("schemas", "EventInput")}}}
_ONE = [ref("parameters", "event_id")]
MANAGER = ("manager",)
STAFF = ("manager", "hr")

add_operation("/api/v1/events", "post", {
    "operationId": "createEvent", "summary": "Create an event (draft)", "tags": ["events"],
    "requestBody": _BODY,
    "responses": {"201": json_response("The new event.", ref("schemas", "Event")),
                  "400": ref("responses", "BadRequest"), "422": _ERR["422"]},
}, roles=MANAGER)
add_operation("/api/v1/events/{event_id}", "get", {
    "operationId": "getEvent", "summary": "One event with invitation counts",
    "tags": ["events"], "parameters": _ONE,
    "responses": {"200": json_response("The event.", ref("schemas", "Event")),
                  "404": _ERR["404"]},
}, roles=STAFF)
add_operation("/api/v1/events/{event_id}", "patch", {
    "operationId": "updateEvent", "summary": "Change an event",
    "description": "Fields not given keep their value. When a published event's title, "
                   "description, time, place or organizer changes, everyone invited and not "
                   "declined gets an update (same UID, SEQUENCE+1).",
    "tags": ["events"], "parameters": _ONE, "requestBody": _BODY,
    "responses": {"200": json_response("The changed event.", ref("schemas", "Event")),
                  "400": ref("responses", "BadRequest"), **_ERR},
}, roles=MANAGER)
add_operation("/api/v1/events/{event_id}/publish", "post", {
    "operationId": "publishEvent", "summary": "Publish a draft (invitations possible)",
    "tags": ["events"], "parameters": _ONE,
    "responses": {"200": json_response("The event.", ref("schemas", "Event")),
                  "404": _ERR["404"], "409": _ERR["409"]},
}, roles=MANAGER)
add_operation("/api/v1/events/{event_id}/cancel", "post", {
    "operationId": "cancelEvent", "summary": "Cancel an event (METHOD:CANCEL mails)",
    "tags": ["events"], "parameters": _ONE,
    "responses": {"200": json_response("The event.", ref("schemas", "Event")),
                  "404": _ERR["404"], "409": _ERR["409"]},
}, roles=MANAGER)
add_operation("/api/v1/events/{event_id}/ics", "get", {
    "operationId": "getEventIcs", "summary": "The event as iCalendar (METHOD:PUBLISH)",
    "tags": ["events"], "parameters": _ONE,
    "responses": {"200": {"description": "text/calendar",
                          "content": {"text/calendar": {"schema": {"type": "string"}}}},
                  "404": _ERR["404"]},
}, roles=STAFF)
add_operation("/api/v1/events/{event_id}/invitations", "post", {
    "operationId": "inviteToEvent", "summary": "Invite members or a segment",
    "description": "Skips members without e-mail, opted out of programme mail, or already "
                   "invited, and says so. Only published events.",
    "tags": ["events"], "parameters": _ONE,
    "requestBody": {"required": True, "content": {"application/json": {
        "schema": ref("schemas", "InviteRequest")}}},
    "responses": {"201": json_response("Invitations created.", ref("schemas", "InviteResult")),
                  "200": json_response("Nobody new to invite.", ref("schemas", "InviteResult")),
                  "400": ref("responses", "BadRequest"), **_ERR},
}, roles=MANAGER)
add_operation("/api/v1/events/{event_id}/invitations", "get", {
    "operationId": "listInvitations", "summary": "The event's invitations",
    "tags": ["events"],
    "parameters": _ONE + [ref("parameters", "page"), ref("parameters", "per_page")],
    "responses": {"200": json_response("A page of invitations.",
                                       ref("schemas", "InvitationList")),
                  "400": ref("responses", "BadRequest"), "404": _ERR["404"]},
}, roles=STAFF)
add_operation("/api/v1/invitations/{invitation_id}/rsvp", "post", {
    "operationId": "rsvpInvitation", "summary": "Answer an invitation on a member's behalf",
    "description": "Same rules as the member's own answer: capacity (accepts beyond it are "
                   "waitlisted with a position), deadline (409 `closed`), confirmation mail "
                   "with the updated calendar item; audited.",
    "tags": ["events"], "parameters": [ref("parameters", "invitation_id")],
    "requestBody": {"required": True, "content": {"application/json": {
        "schema": ref("schemas", "RsvpRequest")}}},
    "responses": {"200": json_response("The invitation after the answer.",
                                       ref("schemas", "Invitation")),
                  "400": ref("responses", "BadRequest"), **_ERR},
}, roles=MANAGER)
add_operation("/api/v1/checkins", "post", {
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
                  "400": ref("responses", "BadRequest"), **_ERR},
}, roles=MANAGER)

# The check-in API route registers on the api blueprint here: this module is imported while
# the api package is set up, before the blueprint is registered with the app.
from . import checkin_api  # noqa: E402,F401
