"""API error bodies: {"error": {"code", "message"}} with a fitting status."""
from __future__ import annotations

from flask import jsonify
from werkzeug.exceptions import HTTPException

CODES = {
    400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
    405: "method_not_allowed", 409: "conflict", 413: "too_large", 422: "invalid",
    429: "too_many_requests", 500: "server_error",
}


class ApiError(HTTPException):
    """Raise with a status, a machine code and a human message."""

    def __init__(self, status: int, message: str, code: str | None = None):
        super().__init__(description=message)
        self.code = status
        self.error_code = code or CODES.get(status, "error")


def error_response(error: Exception):
    status = getattr(error, "code", 500) or 500
    code = getattr(error, "error_code", None) or CODES.get(status, "error")
    message = getattr(error, "description", None) or "internal error"
    if status == 401:
        message = "missing or invalid bearer token"
    response = jsonify({"error": {"code": code, "message": message}})
    response.status_code = status
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="engagement"'
    return response
