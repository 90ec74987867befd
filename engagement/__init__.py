"""engagement: recognition programme for a support community's power users."""
from __future__ import annotations

import os
from pathlib import Path

from flask import Flask, current_app, g, jsonify, render_template, request, session
from flask_login import current_user

from .extensions import babel, csrf, login_manager, mailer, migrate
from .extensions import db as database  # `db` would be rebound by importing engagement.db

PROJECT_ROOT = Path(__file__).resolve().parent.parent
# Scripts only from static files (no inline code or handlers: they are what injected HTML
# would use). Inline styles stay allowed: tier colours, progress bars and the sandboxed
# mail preview need them, and CSS cannot run code.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; font-src 'self'; connect-src 'self'; object-src 'none'; "
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
PERMISSIONS_POLICY = "camera=(), microphone=(), geolocation=(), payment=(), usb=()"


def create_app(config: dict | None = None) -> Flask:
    """Build the app: settings table (defaults, environment, .env), instance config, overrides."""
    from . import config as settings_table

    settings_table.load_env_file()
    app = Flask(
        __name__,
        instance_path=settings_table.instance_folder(),  # ENGAGEMENT_INSTANCE
        template_folder=str(PROJECT_ROOT / "templates"),
        static_folder=str(PROJECT_ROOT / "static"),
    )
    app.config.from_mapping(settings_table.load(app.instance_path))
    # An absolute path: a relative one is taken from the package folder, not the instance.
    app.config.from_pyfile(str(Path(app.instance_path) / "config.py"), silent=True)
    if config:
        app.config.from_mapping(config)
    app.config["SQLALCHEMY_DATABASE_URI"] = settings_table.normalise_db_url(
        app.config["SQLALCHEMY_DATABASE_URI"])
    # The remember cookie follows the session cookie: one switch for "we are behind HTTPS".
    app.config["REMEMBER_COOKIE_SECURE"] = bool(
        app.config["REMEMBER_COOKIE_SECURE"] or app.config["SESSION_COOKIE_SECURE"])
    check_secret_key(app)
    trust_proxies(app)
    from .web import BoundedIntConverter

    app.url_map.converters["int"] = BoundedIntConverter  # before any route: ids past 2**63 404

    from . import accounts, api, audit, community, demo, events, mail, programme, records, rewards

    register_extensions(app)
    audit.init_app(app)
    accounts.init_app(app)
    mail.init_app(app)
    community.init_app(app)
    events.init_app(app)
    rewards.init_app(app)
    records.init_app(app)
    programme.init_app(app)
    api.init_app(app)  # blueprint "api" (/api/v1), CSRF-exempt: bearer tokens, no cookies
    demo.init_app(app)
    register_errorhandlers(app)
    register_request_hooks(app)
    register_template_helpers(app)
    return app


def trust_proxies(app: Flask) -> Flask:
    """Take the client address and scheme from the `TRUSTED_PROXIES` nearest proxies.

    Without it every client behind the reverse proxy shares the proxy's address (one
    rate-limit bucket for all); with too high a count a client could spoof its address.
    """
    from werkzeug.middleware.proxy_fix import ProxyFix

    count = int(app.config["TRUSTED_PROXIES"] or 0)
    if count > 0:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=count, x_proto=count)
    return app


def check_secret_key(app: Flask) -> None:
    """Refuse to start in production without a real secret; use a throwaway one elsewhere."""
    if app.config["SECRET_KEY"]:
        return
    if app.config["ENGAGEMENT_ENV"] == "production":
        raise RuntimeError("SECRET_KEY must be set in production (ENGAGEMENT_ENV=production)")
    key_file = Path(app.instance_path) / "secret_key"
    if not key_file.exists():
        key_file.write_text(os.urandom(32).hex())
        key_file.chmod(0o600)
    app.config["SECRET_KEY"] = key_file.read_text().strip()


def register_extensions(app: Flask) -> None:
    # Import every model module so the metadata (and Alembic) sees all tables.
    from . import audit, settings  # noqa: F401
    from .accounts import models as _accounts  # noqa: F401
    from .community import models as _community  # noqa: F401
    from .community.mailings import models as _mailings  # noqa: F401
    from .community.segments import models as _segments  # noqa: F401
    from .events import models as _events  # noqa: F401
    from .mail import models as _mail  # noqa: F401
    from .records import models as _records  # noqa: F401
    from .rewards import models as _rewards  # noqa: F401
    from .rewards import restriction as _restriction  # noqa: F401

    database.init_app(app)
    migrate.init_app(app, database, directory=str(PROJECT_ROOT / "migrations"), compare_type=True)
    csrf.init_app(app)
    mailer.init_app(app)
    translation_dirs = sorted(
        str(p) for p in (PROJECT_ROOT / "engagement").rglob("translations") if p.is_dir()
    )
    app.config["BABEL_TRANSLATION_DIRECTORIES"] = ";".join(translation_dirs)
    babel.init_app(app, locale_selector=select_locale)
    login_manager.init_app(app)
    login_manager.login_view = "accounts.login"
    from flask_babel import lazy_gettext

    login_manager.login_message = lazy_gettext("Please sign in to open this page.")
    login_manager.login_message_category = "info"
    from .db import configure_engines

    with app.app_context():
        configure_engines(app)


def select_locale() -> str:
    """User preference, then the language picked in this session, then the browser's."""
    from .security import is_api_request

    languages = current_app.config["LANGUAGES"]
    # The API never reads the session user (bearer tokens only).
    user = None if is_api_request() else current_user
    if user and getattr(user, "is_authenticated", False) and user.locale:
        return user.locale
    if session.get("lang") in languages:
        return session["lang"]
    return request.accept_languages.best_match(languages) or current_app.config[
        "BABEL_DEFAULT_LOCALE"
    ]




def register_errorhandlers(app: Flask) -> None:
    from werkzeug.exceptions import HTTPException, InternalServerError

    def handle(error):
        if not isinstance(error, HTTPException):
            app.logger.exception("unhandled error", exc_info=error)
            error = InternalServerError()
        database.session.rollback()
        g.request_failed = True
        code = error.code or 500
        if request.path.startswith("/api/") or (
            request.blueprint and request.blueprint.startswith("api")
        ):
            from .api.errors import error_response

            return error_response(error)
        return render_template("errors/error.html", code=code, error=error), code

    app.register_error_handler(HTTPException, handle)
    app.register_error_handler(Exception, handle)


def register_request_hooks(app: Flask) -> None:
    @app.after_request
    def commit_request(response):
        # One transaction per request: services only flush; the boundary commits once,
        # unless an exception escaped the view (its error handler rolled back already).
        if g.get("request_failed"):
            database.session.rollback()
        else:
            database.session.commit()
        return response

    @app.teardown_request
    def rollback_on_error(exc):
        if exc is not None:  # escaped every handler: nothing of this request is kept
            database.session.rollback()

    @app.after_request
    def security_headers(response):
        headers = response.headers
        headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        headers.setdefault("X-Content-Type-Options", "nosniff")
        headers.setdefault("X-Frame-Options", "DENY")
        headers.setdefault("Referrer-Policy", "same-origin")
        headers.setdefault("Permissions-Policy", PERMISSIONS_POLICY)
        if app.config["SESSION_COOKIE_SECURE"] or request.is_secure:
            headers.setdefault("Strict-Transport-Security", "max-age=31536000")
        if request.endpoint != "static":
            # Pages show signed-in users' data or carry secrets in their URL (sign-in,
            # invitation, ticket links): no browser or proxy may keep a copy. A view that
            # knows better (the calendar feed: private, revalidated) sets its own.
            headers.setdefault("Cache-Control", "no-store")
        return response

    @app.before_request
    def remember_actor():
        from .security import is_api_request

        if is_api_request():  # the API's own hook sets g.api_user from the bearer token
            g.audit_actor_user = None
            return
        g.audit_actor_user = current_user if current_user.is_authenticated else None


def register_template_helpers(app: Flask) -> None:
    from . import formatting

    formatting.init_app(app)

    @app.context_processor
    def inject_role():
        from .security import current_role

        return {"current_role": current_role()}

    @app.route("/healthz")
    def healthz():
        database.session.execute(database.text("SELECT 1"))
        return jsonify(status="ok")

    from .security import public

    public(app.view_functions["healthz"])
