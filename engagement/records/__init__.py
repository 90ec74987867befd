"""Records: GDPR data export and erasure for members, and the audit log viewer for HR."""
from __future__ import annotations

from flask import Blueprint, Flask

bp = Blueprint("records", __name__)


def init_app(app: Flask) -> None:
    # Routes register on bp when their modules are imported; models register their tables.
    from ..events.rsvp.consents import register_agreement_source
    from . import agreement_views, audit_views, models  # noqa: F401
    from .agreements import RecordsAgreementSource
    from .cli import purge_command
    from .gdpr import views as gdpr_views  # noqa: F401
    from .retention import views as retention_views  # noqa: F401
    from .volunteer import admin_views as volunteer_admin_views  # noqa: F401
    from .volunteer import views as volunteer_views  # noqa: F401

    # The RSVP asks records for the agreement an event requires (events cannot import us).
    register_agreement_source(RecordsAgreementSource())
    app.register_blueprint(bp)
    app.cli.add_command(purge_command)
