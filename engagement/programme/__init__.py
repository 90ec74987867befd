"""Programme value dashboard (Issue 6): what the power-user programme is worth.

Reads community, events and rewards, so it sits above those packages.
"""
from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Register the /programme pages (blueprint "programme")."""
    from .views import bp

    if "programme" not in app.blueprints:
        app.register_blueprint(bp)
