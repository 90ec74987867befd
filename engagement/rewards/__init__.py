"""Rewards: catalogue, grants and the tax-aware gift ledger (Issue 6).

The API routes live in `rewards/api.py`, imported by `engagement/api/__init__.py` (routes
must be on the shared blueprint before it is registered on the app).
"""
from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Register the rewards pages; the tables become known to the metadata."""
    from . import models  # noqa: F401
    from .views import bp

    if "rewards" not in app.blueprints:
        app.register_blueprint(bp)
