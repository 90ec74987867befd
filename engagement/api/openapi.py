"""OpenAPI document (placeholder until built)."""
from flask import jsonify

from ..security import public
from . import bp


@bp.route("/openapi.json")
@public
def openapi_document():
    return jsonify({})
