"""Rewards: catalogue, grants and the tax-aware gift ledger (Issue 6).

Its JSON API lives in the api package (`api/rewards.py`); rewards never imports the API.
"""
from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Register the rewards pages; the tables become known to the metadata."""
    from . import models, restriction  # noqa: F401
    from .views import bp

    if "rewards" not in app.blueprints:
        app.register_blueprint(bp)
