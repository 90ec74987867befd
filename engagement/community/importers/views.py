"""Import pages (placeholder until built)."""
from flask import Blueprint

from ...security import Role, roles_required

bp = Blueprint("imports", __name__)


@bp.route("/imports")
@roles_required(Role.MANAGER)
def index():
    return "imports"
