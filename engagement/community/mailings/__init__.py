"""Mailings: a free mail (Markdown) to a segment, with unsubscribe link and one-click header."""
from flask import Flask


def init_app(app: Flask) -> None:
    """Register the mailing pages, the public unsubscribe endpoints and the mail renderer."""
    from ...extensions import csrf
    from ...mail.render import register_renderer
    from .services import MAIL_KIND, render_mailing_mails
    from .views import bp, unsubscribe_one_click

    # Anything that can send a mailing can also render it (deferred outbox rows).
    register_renderer(MAIL_KIND, render_mailing_mails)
    if bp.name not in app.blueprints:
        # RFC 8058: the mail provider POSTs `List-Unsubscribe=One-Click` without a CSRF
        # token. The signed token in the URL is the authorisation, and the only effect is
        # an idempotent opt-out, so exempting this one endpoint is safe.
        csrf.exempt(unsubscribe_one_click)
        app.register_blueprint(bp)
