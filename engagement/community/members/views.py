"""Member pages: list, profile, leaderboards, dashboard (placeholder until built)."""
from flask import Blueprint

from ...security import Role, roles_required

bp = Blueprint("members", __name__)


@bp.route("/dashboard")
@roles_required(Role.MANAGER, Role.HR)
def dashboard():
    return "dashboard"


@bp.route("/members")
@roles_required(Role.MANAGER, Role.HR)
def index():
    return "members"


@bp.route("/members/<int:member_id>")
@roles_required(Role.MANAGER, Role.HR)
def profile(member_id):
    return "profile"


@bp.route("/leaderboards")
@roles_required(Role.MANAGER, Role.HR)
def leaderboards():
    return "lb"


@bp.route("/me")
@roles_required(Role.MEMBER)
def me():
    return "me"
