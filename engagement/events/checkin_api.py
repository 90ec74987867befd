"""`POST /api/v1/checkins` (SPEC §4a): check an invitation in by scan token or id."""
from __future__ import annotations

from flask import jsonify
from itsdangerous import BadSignature

from ..api import bp
from ..api.errors import ApiError
from ..extensions import db
from ..security import Role, roles_required
from ..timeutil import utcnow
from .api import _body, invitation_json
from .checkin import services as checkin
from .models import Invitation


@bp.route("/checkins", methods=["POST"])
@roles_required(Role.MANAGER)
def api_check_in():
    """Idempotent: checking in twice answers 200 with the first check-in time."""
    data = _body()
    token, invitation_id = data.get("token"), data.get("invitation_id")
    if (token is None) == (invitation_id is None):
        raise ApiError(422, "give exactly one of token or invitation_id", "invalid")
    now = utcnow()
    if token is not None:
        if not isinstance(token, str) or not token:
            raise ApiError(422, "token: must be a non-empty string", "invalid")
        try:
            inv = checkin.load_by_token(db.session, token, now=now)
        except BadSignature:
            raise ApiError(404, "no invitation for this check-in token") from None
        except checkin.CheckinError as exc:
            raise ApiError(409, "this check-in token has expired", exc.code) from None
    else:
        if not isinstance(invitation_id, int) or isinstance(invitation_id, bool):
            raise ApiError(422, "invitation_id: must be an integer", "invalid")
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
