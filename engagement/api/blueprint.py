"""The API's blueprint `bp` (/api/v1) and its bearer-token check; every resource module adds
its routes to it."""
from __future__ import annotations

from flask import Blueprint, abort, g, request

from ..accounts.services import user_for_token
from ..extensions import db
from ..timeutil import utcnow

bp = Blueprint("api", __name__, url_prefix="/api/v1")


@bp.before_request
def authenticate_token():
    """Resolve `Authorization: Bearer <token>`; a bad token is a 401, never a session login."""
    header = request.headers.get("Authorization", "")
    if not header:
        return None  # public endpoints (the OpenAPI document) need none
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        abort(401)
    user = user_for_token(db.session, token.strip(), utcnow())
    if user is None:
        abort(401)
    g.api_user = user
    return None
