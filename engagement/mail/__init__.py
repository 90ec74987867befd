"""Mail: the transactional outbox, MIME composition and the delivery worker (a leaf feature).

Features write mail with `compose.build_message` + `outbox.enqueue` inside their own
transaction; `flask send-outbox` delivers it (see delivery.py for the exactly-once design).
"""
from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Register the mail pages and the `send-outbox` command (safe to call twice)."""
    from .cli import send_outbox_command
    from .views import bp

    if "mail" in app.blueprints:
        return
    app.register_blueprint(bp)
    app.cli.add_command(send_outbox_command)
