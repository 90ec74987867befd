"""Segments: saved member filters over tier, activity, region, language (and extras)."""
from flask import Flask


def init_app(app: Flask) -> None:
    """Register the segment pages."""
    from .views import bp

    if bp.name not in app.blueprints:
        app.register_blueprint(bp)
