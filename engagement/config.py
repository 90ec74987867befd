"""Configuration: defaults, overridden by the environment, `.env` and `instance/config.py`."""
from __future__ import annotations

import os
from pathlib import Path

from dotenv import load_dotenv

_TRUE = {"1", "true", "yes", "on"}


def _bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    return default if value is None else value.strip().lower() in _TRUE


def normalise_db_url(url: str) -> str:
    """Pick the psycopg 3 driver for PostgreSQL URLs."""
    # Hosting platforms hand out postgres:// URLs; SQLAlchemy wants a driver name.
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://"):]
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://"):]
    return url


def from_environment(instance_path: str) -> dict:
    """Build the config mapping from environment variables (after loading `.env`)."""
    load_dotenv(Path.cwd() / ".env", override=False)
    Path(instance_path).mkdir(parents=True, exist_ok=True)
    default_db = "sqlite:///" + str(Path(instance_path) / "engagement.sqlite3")
    cfg = {
        "SECRET_KEY": os.environ.get("SECRET_KEY"),
        "SQLALCHEMY_DATABASE_URI": normalise_db_url(os.environ.get("DATABASE_URL", default_db)),
        "MAIL_SERVER": os.environ.get("MAIL_SERVER") or None,
        "MAIL_PORT": int(os.environ.get("MAIL_PORT", "25")),
        "MAIL_USE_TLS": _bool("MAIL_USE_TLS"),
        "MAIL_USE_SSL": _bool("MAIL_USE_SSL"),
        "MAIL_USERNAME": os.environ.get("MAIL_USERNAME") or None,
        "MAIL_PASSWORD": os.environ.get("MAIL_PASSWORD") or None,
        "MAIL_DEFAULT_SENDER": os.environ.get("MAIL_DEFAULT_SENDER", "engagement@localhost"),
        "BASE_URL": os.environ.get("BASE_URL", "http://127.0.0.1:5000"),
        "DEFAULT_TIMEZONE": os.environ.get("DEFAULT_TIMEZONE", "Europe/Berlin"),
        "BABEL_DEFAULT_TIMEZONE": os.environ.get("DEFAULT_TIMEZONE", "Europe/Berlin"),
        "BABEL_DEFAULT_LOCALE": os.environ.get("DEFAULT_LOCALE", "de"),
        "ENGAGEMENT_ENV": os.environ.get("ENGAGEMENT_ENV", "development"),
        "SESSION_COOKIE_SECURE": _bool("SESSION_COOKIE_SECURE"),
        # A folder on the server whose files managers may import by path from the UI.
        "IMPORT_ROOT": os.environ.get("IMPORT_ROOT") or None,
        # How long a freed seat stays offered to the next person on the waiting list.
        "EVENT_OFFER_HOURS": int(os.environ.get("EVENT_OFFER_HOURS", "48")),
    }
    return {k: v for k, v in cfg.items() if v is not None}


DEFAULTS: dict = {
    "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": True},
    "LANGUAGES": ["de", "en"],
    "SESSION_COOKIE_HTTPONLY": True,
    "SESSION_COOKIE_SAMESITE": "Lax",
    "WTF_CSRF_TIME_LIMIT": None,  # tied to the session instead: long forms must not expire
    "MAX_CONTENT_LENGTH": 512 * 1024 * 1024,  # community exports are large
    # Login throttling: failures per (email) and per (client address) in the window.
    "LOGIN_MAX_FAILURES": 5,
    "LOGIN_MAX_FAILURES_PER_IP": 30,
    "LOGIN_WINDOW_SECONDS": 15 * 60,
    "MEMBERS_PER_PAGE": 50,
    # Sign-in links for members: lifetime and how many may be sent per address / client.
    "MAGIC_LINK_MINUTES": 30,
    "MAGIC_LINK_MAX_PER_EMAIL": 5,
    "MAGIC_LINK_MAX_PER_IP": 20,
    "MAGIC_LINK_WINDOW_SECONDS": 3600,
    # Where the UI import may read server-side files from (None: upload only).
    "IMPORT_ROOT": None,
}
