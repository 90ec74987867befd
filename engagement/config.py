"""Configuration: one table of settings, read from defaults, the environment and `.env`.

`SETTINGS` declares every setting the code reads (name, default, type, meaning, whether an
environment variable sets it). `load()` builds the config mapping from it; the README's
configuration table is generated from it (`python -m engagement.config`). Code reads
`app.config[...]` only. `instance/config.py` and the `create_app(config)` overrides are
applied on top by the app factory.
"""
from __future__ import annotations

import os
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from dotenv import load_dotenv

PROJECT_ROOT = Path(__file__).resolve().parent.parent
README_START = "<!-- settings-table:start -->"  # generated from SETTINGS: do not edit
README_END = "<!-- settings-table:end -->"
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


class ConfigError(ValueError):
    """A setting has a value that cannot be used; the message names it and the value."""


@dataclass(frozen=True)
class Setting:
    """One setting: where it is read from, its type and default, and what it means."""

    name: str  # the environment variable (and config key unless `key` says otherwise)
    type: type  # str, int, float, bool, Decimal, list (of strings) or dict (internal only)
    default: Any
    meaning: str  # one line, shown in the README
    env: bool = True  # False: internal, set in code or instance/config.py only
    key: str | None = None  # the app.config key, when it differs from the variable
    also: tuple[str, ...] = ()  # further config keys that get the same value
    default_text: str | None = None  # how the README shows a computed default
    default_factory: Callable[[Path], Any] | None = None  # default from the instance folder

    @property
    def config_key(self) -> str:
        return self.key or self.name


def _sqlite_in(instance: Path) -> str:
    return "sqlite:///" + str(instance / "engagement.sqlite3")


S = Setting
SETTINGS: tuple[Setting, ...] = (
    # --- the app itself
    S("ENGAGEMENT_ENV", str, "development",
      "`production` refuses to start without `SECRET_KEY` and `AUDIT_KEY`"),
    S("SECRET_KEY", str, None,
      "signs sessions and links; **required** when `ENGAGEMENT_ENV=production`",
      default_text="generated into `instance/secret_key` outside production"),
    S("ENGAGEMENT_INSTANCE", str, None,
      "folder for the SQLite file, uploads, mail files and generated secrets (read before "
      "the app exists, so only from the environment)",
      default_text="`./instance`", default_factory=str),  # create_app reads it first
    S("DATABASE_URL", str, None, "e.g. `postgresql://user:pass@db/engagement`",
      key="SQLALCHEMY_DATABASE_URI", default_text="SQLite in `instance/engagement.sqlite3`",
      default_factory=_sqlite_in),
    S("BASE_URL", str, "http://127.0.0.1:5000",
      "public address used in links and the API document"),
    S("DEFAULT_TIMEZONE", str, "Europe/Berlin", "time zone for dates shown and events",
      also=("BABEL_DEFAULT_TIMEZONE",)),
    S("DEFAULT_LOCALE", str, "de",
      "language when neither the user nor the browser chooses, and of mail to members whose "
      "language is unknown (`de`, `en`)", key="BABEL_DEFAULT_LOCALE"),
    S("SESSION_COOKIE_SECURE", bool, False, "turn on behind HTTPS: session and \"stay signed "
      "in\" cookies only over HTTPS, and browsers are told to use HTTPS only (HSTS)"),
    S("TRUSTED_PROXIES", int, 0,
      "reverse proxies in front of the app whose `X-Forwarded-For`/`-Proto` are believed "
      "(1 for the setup below; 0: the connecting address is the client)"),
    S("MAX_CONTENT_LENGTH", int, 512 * 1024 * 1024,
      "largest request body in bytes (community exports are large)"),
    # --- outgoing mail
    S("MAIL_SERVER", str, None, "SMTP server for outgoing mail; unset: mail is written as .eml "
      "files to `MAIL_FILE_DIR` and listed on an admin page"),
    S("MAIL_PORT", int, 25, "SMTP port"),
    S("MAIL_USE_TLS", bool, False, "STARTTLS after connecting"),
    S("MAIL_USE_SSL", bool, False, "SMTP over TLS from the start"),
    S("MAIL_USERNAME", str, None, "SMTP login"),
    S("MAIL_PASSWORD", str, None, "SMTP password"),
    S("MAIL_DEFAULT_SENDER", str, "engagement@localhost", "From address"),
    S("MAIL_SUPPRESS_SEND", bool, False,
      "on: never connect to `MAIL_SERVER`, write .eml files instead (staging copies)"),
    S("MAIL_FILE_DIR", str, None, "folder for .eml files when no SMTP server is used",
      default_text="`instance/mail`", default_factory=lambda instance: str(instance / "mail")),
    S("MAIL_MAX_ATTEMPTS", int, 8, "delivery attempts before a mail is marked failed"),
    S("MAIL_RETRY_BASE_SECONDS", float, 60.0,
      "wait before the first retry; doubles with each further attempt"),
    S("MAIL_RETRY_MAX_SECONDS", float, 3600.0, "longest wait between two attempts"),
    S("MAIL_LEASE_SECONDS", float, 300.0,
      "how long a worker holds claimed mail before another worker may take it"),
    S("MAIL_TIMEOUT", float, 30.0, "SMTP socket timeout in seconds"),
    S("INBOUND_MAIL_MAX_BYTES", int, 10 * 1024 * 1024,
      "largest raw mail accepted by `POST /api/v1/inbound/mail`", default_text="10485760 (10 MB)"),
    S("INBOUND_AUTHSERV_ID", str, None,
      "authserv-id of your own receiving mail server: only its `Authentication-Results` "
      "header (RFC 8601) is believed, and a calendar reply whose From domain it failed "
      "(DMARC, or DKIM and SPF) is ignored; unset: no such header is believed"),
    S("INBOUND_REQUIRE_AUTH", bool, False,
      "on: apply a calendar reply only when that trusted header says DMARC, DKIM or SPF "
      "passed for the From domain; off: without a trusted verdict a reply counts when From "
      "is the invitee or a delegate recorded for them"),
    # --- sign-in
    S("LOGIN_MAX_FAILURES", int, 5, "failed password sign-ins per address in the window "
      "(counted apart for each browser that signed in to the address before)"),
    S("LOGIN_MAX_FAILURES_PER_IP", int, 30, "failed password sign-ins per client in the window"),
    S("LOGIN_WINDOW_SECONDS", int, 15 * 60, "window of the sign-in throttle"),
    S("LOGIN_DEVICE_DAYS", int, 365, "how long a browser that signed in is known to that "
      "account: its own failures are counted apart, so strangers cannot lock it out"),
    S("MAGIC_LINK_MINUTES", int, 30, "lifetime of a member's sign-in link"),
    S("MAGIC_LINK_MAX_PER_EMAIL", int, 5, "sign-in links sent per address in the window"),
    S("MAGIC_LINK_MAX_PER_IP", int, 20, "sign-in links requested per client in the window"),
    S("MAGIC_LINK_WINDOW_SECONDS", int, 3600, "window of the sign-in link quota"),
    # --- community, events, records
    S("MEMBERS_PER_PAGE", int, 50, "rows per page of the member list"),
    S("IMPORT_ROOT", str, None, "a server folder whose exports managers may import by path on "
      "the import page (uploads always work)"),
    S("IMPORT_UPLOAD_RETENTION_DAYS", int, 0,
      "days uploaded import files are kept after their run ends (0: deleted when the run "
      "ends, successful or not; they hold members' personal data)"),
    S("IMPORT_BATCH_ROWS", int, None,
      "rows per database batch of `import-community` (unset: the loader's own sizes)"),
    S("EVENT_OFFER_HOURS", int, 48,
      "how long a freed seat stays offered to the next person on the waiting list (never "
      "past the event's start)"),
    S("EVENT_ACTION_NEEDED_HOURS", int, 48,
      "how long a calendar \"Accept\" holds the seat while the member adds the answers or "
      "consents the event requires (never past the event's start)"),
    S("CHECKIN_OPENS_HOURS", float, 3.0,
      "check-in (scan, door list, API) opens this many hours before an event starts"),
    S("CHECKIN_GRACE_HOURS", float, 24.0,
      "check-in closes this many hours after an event ends (late door lists are reconciled "
      "the next morning; later a leaked ticket changes nothing)"),
    S("PURGE_INTERVAL_MINUTES", int, 60,
      "how often `flask purge --loop` removes data whose retention period has ended (the "
      "periods themselves are set on the retention page)"),
    S("GDPR_ERASURE_KEY", str, None, "key of the hash that replaces erased members' platform "
      "ids (unset: `SECRET_KEY`; changing it forgets who was erased)"),
    S("AUDIT_KEY", str, None,
      "HMAC key of the audit log's hash chain, kept outside the database (so database access "
      "alone cannot re-seal a rewritten log); **required** when `ENGAGEMENT_ENV=production`; "
      "to change it see *Audit log* below",
      default_text="generated into `instance/audit_key` outside production"),
    S("AUDIT_OLD_KEYS", list, [],
      "earlier `AUDIT_KEY`s, so `audit verify` can check the entries they sealed and the "
      "next write can log the rotation", default_text="none"),
    # --- internal: set in code or instance/config.py, not from the environment
    S("LANGUAGES", list, ["de", "en"], "languages the UI and mail are translated into",
      env=False),
    S("SQLALCHEMY_ENGINE_OPTIONS", dict, {"pool_pre_ping": True}, "engine options", env=False),
    S("SESSION_COOKIE_HTTPONLY", bool, True, "session cookie hidden from scripts", env=False),
    S("SESSION_COOKIE_SAMESITE", str, "Lax", "session cookie same-site rule", env=False),
    # Flask-Login's "stay signed in" cookie: without SameSite a cross-site form POST carries it.
    S("REMEMBER_COOKIE_SAMESITE", str, "Lax", "remember cookie same-site rule", env=False),
    S("REMEMBER_COOKIE_HTTPONLY", bool, True, "remember cookie hidden from scripts", env=False),
    S("REMEMBER_COOKIE_SECURE", bool, False,
      "remember cookie only over HTTPS; on whenever `SESSION_COOKIE_SECURE` is", env=False),
    S("WTF_CSRF_TIME_LIMIT", int, None,
      "CSRF tokens are tied to the session instead: long forms must not expire", env=False),
)
del S

_TYPE_WORDS = {str: "text", int: "whole number", float: "number", bool: "on/off",
               Decimal: "decimal number", list: "comma-separated list", dict: "mapping"}


def _to_bool(text: str) -> bool:
    word = text.strip().lower()
    if word in _TRUE:
        return True
    if word in _FALSE:
        return False
    raise ValueError


def _to_list(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


_CONVERT: dict[type, Callable[[str], Any]] = {
    str: str, int: lambda t: int(t.strip()), float: lambda t: float(t.strip()),
    bool: _to_bool, Decimal: lambda t: Decimal(t.strip()), list: _to_list,
}


def convert(setting: Setting, text: str) -> Any:
    """The typed value of an environment string; ConfigError says what was expected."""
    if setting.default is None and setting.default_factory is None and text.strip() == "":
        return None  # an empty optional setting means "unset", as before
    try:
        return _CONVERT[setting.type](text)
    except (ValueError, InvalidOperation, KeyError):
        article = "" if setting.type is bool else "a "
        raise ConfigError(f"{setting.name} must be {article}{_TYPE_WORDS[setting.type]}, "
                          f"got {text!r}") from None


def normalise_db_url(url: str) -> str:
    """Pick the psycopg 3 driver for PostgreSQL URLs."""
    # Hosting platforms hand out postgres:// URLs; SQLAlchemy wants a driver name.
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://"):]
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://"):]
    return url


def load_env_file() -> None:
    """Read `.env` from the working directory; real environment variables win."""
    load_dotenv(Path.cwd() / ".env", override=False)


def instance_folder(environ: Mapping[str, str] | None = None) -> str:
    """The instance folder: ENGAGEMENT_INSTANCE, else `instance/` in the project."""
    environ = os.environ if environ is None else environ
    return environ.get("ENGAGEMENT_INSTANCE") or str(PROJECT_ROOT / "instance")


def load(instance_path: str, environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Every setting: its default, replaced by the environment variable where one is set."""
    environ = os.environ if environ is None else environ
    instance = Path(instance_path)
    instance.mkdir(parents=True, exist_ok=True)
    cfg: dict[str, Any] = {}
    for setting in SETTINGS:
        if setting.default_factory is not None:
            value = setting.default_factory(instance)
        else:
            value = _copy(setting.default)
        text = environ.get(setting.name) if setting.env else None
        if text is not None:
            value = convert(setting, text)
        for key in (setting.config_key, *setting.also):
            cfg[key] = value
    cfg["SQLALCHEMY_DATABASE_URI"] = normalise_db_url(cfg["SQLALCHEMY_DATABASE_URI"])
    cfg["ENGAGEMENT_INSTANCE"] = str(instance)
    return cfg


def _copy(value: Any) -> Any:
    # Lists and dicts are per app: one test changing its app's LANGUAGES leaves others alone.
    return type(value)(value) if isinstance(value, list | dict) else value


def _default_text(setting: Setting) -> str:
    if setting.default_text is not None:
        return setting.default_text
    value = setting.default
    if value is None:
        return "unset"
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, list):
        value = ",".join(value)
    return f"`{value}`"


def environment_settings() -> list[Setting]:
    """The settings an environment variable sets (the README's table), in table order."""
    return [s for s in SETTINGS if s.env]


def markdown_table() -> str:
    """The README's configuration table, generated from SETTINGS."""
    lines = ["| variable | default | type | meaning |", "|---|---|---|---|"]
    for s in environment_settings():
        lines.append(f"| `{s.name}` | {_default_text(s)} | {_TYPE_WORDS[s.type]} | {s.meaning} |")
    return "\n".join(lines) + "\n"


def replace_readme_table(readme: str) -> str:
    """The README text with the generated table between its markers."""
    head, start, rest = readme.partition(README_START)
    _old, end, tail = rest.partition(README_END)
    if not start or not end:
        raise ValueError("README has no settings-table markers")
    return f"{head}{README_START}\n{markdown_table()}{README_END}{tail}"


def main(argv: list[str]) -> int:
    """`python -m engagement.config [--write README.md]`: print or update the table."""
    if argv[:1] == ["--write"] and len(argv) == 2:
        path = Path(argv[1])
        path.write_text(replace_readme_table(path.read_text(encoding="utf-8")),
                        encoding="utf-8")
        return 0
    if argv:
        print("usage: python -m engagement.config [--write README.md]", file=sys.stderr)
        return 2
    sys.stdout.write(markdown_table())
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
