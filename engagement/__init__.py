"""engagement: recognition programme for a support community's power users."""
from __future__ import annotations

import os
from pathlib import Path

from flask import Flask, current_app, g, jsonify, render_template, request, session
from flask_login import current_user

from . import config as config_module
from .extensions import babel, csrf, db, login_manager, migrate
from .extensions import mail as mail_ext

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def create_app(config: dict | None = None) -> Flask:
    """Build the app: defaults, then environment, then the given overrides."""
    app = Flask(
        __name__,
        instance_path=os.environ.get("ENGAGEMENT_INSTANCE", str(PROJECT_ROOT / "instance")),
        template_folder=str(PROJECT_ROOT / "templates"),
        static_folder=str(PROJECT_ROOT / "static"),
    )
    app.config.from_mapping(config_module.DEFAULTS)
    app.config.from_mapping(config_module.from_environment(app.instance_path))
    app.config.from_pyfile("config.py", silent=True)
    if config:
        app.config.from_mapping(config)
    app.config["SQLALCHEMY_DATABASE_URI"] = config_module.normalise_db_url(
        app.config["SQLALCHEMY_DATABASE_URI"])
    check_secret_key(app)
    register_extensions(app)
    register_blueprints(app)
    register_errorhandlers(app)
    register_request_hooks(app)
    register_commands(app)
    register_template_helpers(app)
    return app


def check_secret_key(app: Flask) -> None:
    """Refuse to start in production without a real secret; use a throwaway one elsewhere."""
    if app.config.get("SECRET_KEY"):
        return
    if app.config.get("ENGAGEMENT_ENV") == "production":
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

    db.init_app(app)
    migrate.init_app(app, db, directory=str(PROJECT_ROOT / "migrations"), compare_type=True)
    csrf.init_app(app)
    mail_ext.init_app(app)
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
    from .db_setup import configure_engines

    with app.app_context():
        configure_engines(app)


def select_locale() -> str:
    """User preference, then the language picked in this session, then the browser's."""
    languages = current_app.config["LANGUAGES"]
    if current_user and getattr(current_user, "is_authenticated", False) and current_user.locale:
        return current_user.locale
    if session.get("lang") in languages:
        return session["lang"]
    return request.accept_languages.best_match(languages) or current_app.config[
        "BABEL_DEFAULT_LOCALE"
    ]


def register_blueprints(app: Flask) -> None:
    from . import api
    from .accounts.views import bp as accounts_bp
    from .community.importers.views import bp as imports_bp
    from .community.members.views import bp as members_bp
    from .community.tiers.views import bp as tiers_bp

    for bp in (accounts_bp, members_bp, tiers_bp, imports_bp):
        app.register_blueprint(bp)
    from .mail import init_app as init_mail

    init_mail(app)  # blueprint "mail" (/mail/...) and the send-outbox command
    api.init_app(app)  # blueprint "api" (/api/v1), CSRF-exempt: bearer tokens, no cookies

    from .community import mailings, segments
    from .events import init_app as init_events

    segments.init_app(app)
    mailings.init_app(app)
    init_events(app)

    from .rewards import init_app as init_rewards

    init_rewards(app)  # blueprint "rewards" (/rewards/...)

    from .records import init_app as init_records

    init_records(app)  # GDPR export/erasure (/me/data, /records/...) and the audit viewer

    from .programme import init_app as init_programme

    init_programme(app)  # programme value dashboard (/programme)


def register_errorhandlers(app: Flask) -> None:
    from werkzeug.exceptions import HTTPException, InternalServerError

    def handle(error):
        if not isinstance(error, HTTPException):
            app.logger.exception("unhandled error", exc_info=error)
            error = InternalServerError()
        db.session.rollback()
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
        # One transaction per request: services only flush; the boundary commits.
        if response.status_code < 400:
            db.session.commit()
        else:
            db.session.rollback()
        return response

    @app.after_request
    def security_headers(response):
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        return response

    @app.before_request
    def remember_actor():
        g.audit_actor_user = current_user if current_user.is_authenticated else None


def register_commands(app: Flask) -> None:
    from . import audit
    from .accounts import cli as accounts_cli
    from .community import cli as community_cli

    audit.init_app(app)
    from .demo import seed_demo_command

    app.cli.add_command(seed_demo_command)
    accounts_cli.init_app(app)
    community_cli.init_app(app)


def register_template_helpers(app: Flask) -> None:
    from . import formatting

    formatting.init_app(app)

    @app.context_processor
    def inject_role():
        from .security import current_role

        return {"current_role": current_role()}

    @app.route("/healthz")
    def healthz():
        db.session.execute(db.text("SELECT 1"))
        return jsonify(status="ok")

    from .security import public

    public(app.view_functions["healthz"])
