"""API: volunteer records of a year, as JSON pages or CSV (SPEC §8)."""
from __future__ import annotations

from typing import Any

from flask import jsonify, request

from ..db import paginate_list
from ..records.volunteer import views
from ..security import Role, roles_required
from .blueprint import bp
from .errors import ApiError
from .openapi import PAGING, SCHEMAS, describe, json_response, list_envelope, ref
from .pagination import list_body, page_args

SCHEMAS["VolunteerRecord"] = {
    "type": "object",
    "properties": {
        "member_id": {"type": "integer"}, "display_name": {"type": ["string", "null"]},
        "year": {"type": "integer"}, "answers": {"type": "integer"},
        "accepted_solutions": {"type": "integer"},
        "estimated_hours": {"type": "string", "description": "Decimal hours, e.g. \"2.33\"."},
        "role_hours": {"type": "string"}, "total_hours": {"type": "string"},
        "events_attended": {"type": "integer"},
        "rewards_value": {"type": "string", "description": "EUR, two decimals."},
        "reward_flag": {"type": "string", "enum": ["ok", "at_limit", "over"]},
        "missing_agreement": {"type": "boolean"},
        "signed_off_at": {"type": ["string", "null"], "format": "date-time"},
        "changed_since_signoff": {"type": "array", "items": {"type": "string"}},
    },
}
SCHEMAS["VolunteerRecordList"] = list_envelope("VolunteerRecord")
_YEAR = {"name": "year", "in": "query", "required": False,
         "schema": {"type": "integer", "minimum": 1901, "maximum": 2999},
         "description": "Calendar year (default: the current year)."}



def record_json(r, names: dict[int, str]) -> dict[str, Any]:
    f = r.figures
    return {"member_id": r.member_id, "display_name": names.get(r.member_id), "year": r.year,
            "answers": f.answers, "accepted_solutions": f.accepted,
            "estimated_hours": str(f.estimated_hours), "role_hours": str(f.role_hours),
            "total_hours": str(f.total_hours), "events_attended": f.events_attended,
            "rewards_value": str(f.rewards_value), "reward_flag": str(r.reward_flag),
            "missing_agreement": r.missing_agreement,
            "signed_off_at": (r.signoff.signed_at.isoformat().replace("+00:00", "Z")
                              if r.signoff else None),
            "changed_since_signoff": r.changed}


def _year() -> int:
    raw = request.args.get("year")
    if raw is None or raw.strip() == "":
        return views.year_arg()
    try:
        year = int(raw)
    except ValueError:
        raise ApiError(400, f"year must be a whole number, got {raw!r}",
                       "invalid_parameter") from None
    if not 1900 < year < 3000:
        raise ApiError(400, f"year must be between 1901 and 2999, got {year}",
                       "invalid_parameter")
    return year


@bp.get("/records")
@describe({
    "operationId": "listVolunteerRecords",
    "summary": "Volunteer records of one year",
    "description": "One entry per member with activity in the year, ordered by member id.",
    "tags": ["records"],
    "parameters": [_YEAR, *PAGING],
    "responses": {"200": json_response("A page of member-year records.",
                                       ref("schemas", "VolunteerRecordList")),
                  "400": ref("responses", "BadRequest")},
})
@roles_required(Role.HR, Role.MANAGER)
def api_volunteer_records():
    year, page = _year(), page_args()
    _all, records = views.sorted_records(year, "member")
    rows = paginate_list(records, page=page.page, per_page=page.per_page)
    names = views.names_for([r.member_id for r in rows.items])
    return jsonify(list_body([record_json(r, names) for r in rows.items], rows.total, page))


@bp.get("/records.csv")
@describe({
    "operationId": "exportVolunteerRecords",
    "summary": "Volunteer records of one year as CSV",
    "tags": ["records"],
    "parameters": [_YEAR],
    "responses": {"200": {"description": "CSV (cells that could start a formula are quoted).",
                          "content": {"text/csv": {"schema": {"type": "string"}}}},
                  "400": ref("responses", "BadRequest")},
})
@roles_required(Role.HR, Role.MANAGER)
def api_volunteer_records_csv():
    return views.csv_response(_year())
