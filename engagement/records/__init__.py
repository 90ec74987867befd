"""Records: GDPR data export and erasure for members, and the audit log viewer for HR."""
from __future__ import annotations

from flask import Blueprint, Flask

bp = Blueprint("records", __name__)


def init_app(app: Flask) -> None:
    from . import audit_views, gdpr_views  # noqa: F401  (routes register on bp)

    app.register_blueprint(bp)
