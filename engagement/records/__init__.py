"""Records: GDPR data export and erasure for members, and the audit log viewer for HR."""
from __future__ import annotations

from flask import Blueprint, Flask

bp = Blueprint("records", __name__)


def init_app(app: Flask) -> None:
    # Routes register on bp when their modules are imported; models register their tables.
    from ..events.rsvp.consents import register_agreement_source
    from . import (  # noqa: F401
        agreement_views,
        audit_views,
        gdpr_views,
        models,
        retention_views,
        volunteer_admin_views,
        volunteer_views,
    )
    from .agreements import RecordsAgreementSource
    from .cli import purge_command

    # The RSVP asks records for the agreement an event requires (events cannot import us).
    register_agreement_source(RecordsAgreementSource())
    app.register_blueprint(bp)
    app.cli.add_command(purge_command)
