"""Users, roles, login, sign-in links and API tokens."""
from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Register the accounts pages, the user loader, sign-in mail rules and the commands."""
    from ..extensions import login_manager
    from . import cli, views
    from .blueprint import bp
    from .signin import links as magic
    from .signin import views as magic_views  # noqa: F401  (routes register on bp)

    login_manager.user_loader(views.load_user)
    magic.init_app(app)
    if bp.name not in app.blueprints:
        app.register_blueprint(bp)
    for command in cli.COMMANDS:
        app.cli.add_command(command)
