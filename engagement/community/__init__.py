"""Members, contributions, importers, tiers, segments and leaderboards."""
from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Register the community pages, segments, mailings and the community commands."""
    from . import cli, mailings, segments
    from .importers.views import bp as imports_bp
    from .members.views import bp as members_bp
    from .tiers.views import bp as tiers_bp

    for bp in (members_bp, tiers_bp, imports_bp):
        if bp.name not in app.blueprints:
            app.register_blueprint(bp)
    segments.init_app(app)
    mailings.init_app(app)
    for command in cli.COMMANDS:
        app.cli.add_command(command)
