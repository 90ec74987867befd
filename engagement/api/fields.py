"""JSON in and out: the request body, typed field readers (422 on a bad value), timestamps."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import request

from ..web import MAX_ID, JsonTooDeep, loads_bounded
from .errors import ApiError


def json_body() -> dict[str, Any]:
    """The request's JSON object; a 400 for anything else (deeply nested JSON too)."""
    data = None
    if request.is_json:
        try:
            data = loads_bounded(request.get_data(cache=True))
        except JsonTooDeep as exc:
            raise ApiError(400, f"the body is not usable JSON: {exc}", "invalid_json") from None
        except ValueError:
            data = None
    if not isinstance(data, dict):
        raise ApiError(400, "the body must be a JSON object", "invalid_json")
    return data


def invalid(field: str, message: str) -> ApiError:
    """The 422 for one field with a bad value."""
    return ApiError(422, f"{field}: {message}", "invalid")


def text(data: dict, name: str, default: str = "") -> str:
    """An optional string field; null means empty."""
    value = data.get(name, default)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise invalid(name, "must be a string")
    return value


MAX_INT = 2**31 - 1  # counts and days are 32-bit columns; JSON numbers have no limit


def int_or_none(data: dict, name: str, default: int | None = None) -> int | None:
    """An optional whole-number field; booleans are not numbers here."""
    value = data.get(name, default)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise invalid(name, "must be a whole number or null")
    if not -MAX_INT <= value <= MAX_INT:
        raise invalid(name, f"must be between {-MAX_INT} and {MAX_INT}")
    return value


def is_record_id(value: Any) -> bool:
    """A whole number that can be a row id: 1 to 2**63-1 (no bools, floats or strings)."""
    return isinstance(value, int) and not isinstance(value, bool) and 0 < value <= MAX_ID


def record_id(data: dict, name: str, required: bool = True) -> int | None:
    """A field naming a row by id; 422 for anything else (floats, negatives, past 2**63)."""
    value = data.get(name)
    if value is None and not required:
        return None
    if not is_record_id(value):
        raise invalid(name, "must be a positive integer id")
    return value


def iso_utc(value: datetime | None) -> str | None:
    """A stored UTC instant as ISO 8601 with `Z`."""
    return None if value is None else value.isoformat().replace("+00:00", "Z")
