"""JSON API under /api/v1: bearer tokens acting with their user's role (SPEC §4a).

One module per resource, each route next to its OpenAPI description; the features never
import the API, the API calls their services.
"""
from __future__ import annotations

from flask import Flask

from ..extensions import csrf


def init_app(app: Flask) -> None:
    """Add every resource's routes to the blueprint and register it (CSRF-exempt)."""
    from . import members, openapi, records, rewards, tiers  # noqa: F401
    from .blueprint import bp
    from .events import checkins, events, inbound, invitations  # noqa: F401

    csrf.exempt(bp)  # bearer-token API: no cookies, so no CSRF
    app.register_blueprint(bp)
