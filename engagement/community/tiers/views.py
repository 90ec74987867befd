"""Tier pages (placeholder until built)."""
from flask import Blueprint

from ...security import Role, roles_required

bp = Blueprint("tiers", __name__)


@bp.route("/tiers")
@roles_required(Role.MANAGER, Role.HR)
def index():
    return "tiers"
