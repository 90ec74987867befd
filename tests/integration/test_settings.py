"""The settings table: every documented variable works, the README matches, bad values stop."""
from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import select

from engagement import config, create_app
from engagement.config import SETTINGS, ConfigError, Setting
from engagement.extensions import db
from engagement.mail import outbox
from engagement.mail.compose import build_message
from engagement.mail.models import OutboxMessage
from engagement.timeutil import utcnow
from tests.conftest import _sqlite_app
from tests.mail_fixtures import deliver_all

README = Path(__file__).resolve().parents[2] / "README.md"
BY_NAME = {s.name: s for s in SETTINGS}


def readme_section() -> str:
    text = README.read_text(encoding="utf-8")
    start, end = text.index(config.README_START), text.index(config.README_END)
    return text[start + len(config.README_START):end].strip("\n") + "\n"


def readme_variables() -> list[str]:
    """The variable names in the README's configuration table, in order."""
    names = []
    for line in readme_section().splitlines():
        match = re.match(r"^\| `([A-Z][A-Z0-9_]*)` \|", line)
        if match:
            names.append(match.group(1))
    return names


def other_value(setting: Setting, tmp_path: Path) -> tuple[str, object]:
    """An environment string unlike the default, and the value app.config must then hold."""
    special = {
        "DATABASE_URL": f"sqlite:///{tmp_path / 'from-env.sqlite3'}",
        "ENGAGEMENT_INSTANCE": str(tmp_path / "instance-from-env"),
        "ENGAGEMENT_ENV": "production",
        "DEFAULT_TIMEZONE": "America/New_York",
        "DEFAULT_LOCALE": "en",
        "BASE_URL": "https://engagement.example.org",
        "MAIL_DEFAULT_SENDER": "community@example.org",
        "MAIL_FILE_DIR": str(tmp_path / "mail-from-env"),
        "IMPORT_ROOT": str(tmp_path / "imports-from-env"),
    }
    if setting.name in special:
        text = special[setting.name]
        return text, config.convert(setting, text)
    if setting.type is bool:
        return ("0", False) if setting.default else ("1", True)
    if setting.type is int:
        number = (setting.default or 0) + 7
        return str(number), number
    if setting.type is float:
        number = (setting.default or 0) + 1.5
        return str(number), number
    if setting.type is Decimal:
        number = (setting.default or Decimal(0)) + Decimal("1.25")
        return str(number), number
    if setting.type is list:
        return "one, two", ["one", "two"]
    text = f"{setting.name.lower()}-from-env"
    return text, text


def test_every_documented_variable_reaches_app_config(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)  # no stray .env
    expected = {}
    for name in readme_variables():
        assert name in BY_NAME, f"README documents {name}, which the settings table lacks"
        setting = BY_NAME[name]
        text, value = other_value(setting, tmp_path)
        assert value != setting.default, name
        monkeypatch.setenv(name, text)
        expected[name] = value
    assert len(expected) > 30
    app = create_app()
    for name, value in expected.items():
        setting = BY_NAME[name]
        if name == "DATABASE_URL":
            value = config.normalise_db_url(value)
        for key in (setting.config_key, *setting.also):
            assert app.config[key] == value, f"{name} -> app.config[{key!r}]"
    assert app.instance_path == expected["ENGAGEMENT_INSTANCE"]
    assert app.config["BABEL_DEFAULT_TIMEZONE"] == "America/New_York"
    assert app.config["BABEL_DEFAULT_LOCALE"] == "en"


def test_readme_table_is_the_settings_table():
    documented = readme_variables()
    declared = [s.name for s in config.environment_settings()]
    assert documented == declared, "README and engagement/config.py list different variables"
    assert readme_section() == config.markdown_table(), (
        "README's configuration table is stale: run `python -m engagement.config --write "
        "README.md`")


def test_internal_settings_are_not_read_from_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("SQLALCHEMY_ENGINE_OPTIONS", "nonsense")
    monkeypatch.setenv("LANGUAGES", "fr")
    cfg = config.load(str(tmp_path))
    assert cfg["SQLALCHEMY_ENGINE_OPTIONS"] == {"pool_pre_ping": True}
    assert cfg["LANGUAGES"] == ["de", "en"]
    assert "LANGUAGES" not in readme_variables()


@pytest.mark.parametrize(("name", "value", "message"), [
    ("MAIL_PORT", "abc", "MAIL_PORT must be a whole number, got 'abc'"),
    ("MAIL_RETRY_BASE_SECONDS", "soon", "MAIL_RETRY_BASE_SECONDS must be a number, got 'soon'"),
    ("MAIL_USE_TLS", "maybe", "MAIL_USE_TLS must be on/off, got 'maybe'"),
    ("IMPORT_BATCH_ROWS", "1e3", "IMPORT_BATCH_ROWS must be a whole number, got '1e3'"),
])
def test_a_bad_value_stops_the_app_at_start_up(monkeypatch, tmp_path, name, value, message):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("ENGAGEMENT_INSTANCE", str(tmp_path))
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError) as info:
        create_app()
    assert str(info.value) == message


def test_empty_optional_values_mean_unset_and_flags_read_words():
    assert config.convert(BY_NAME["IMPORT_BATCH_ROWS"], "") is None
    assert config.convert(BY_NAME["MAIL_SERVER"], "  ") is None
    assert [config.convert(BY_NAME["MAIL_USE_TLS"], w) for w in ("Yes", "on", "0", "false")] \
        == [True, True, False, False]


def test_dot_env_is_read_but_never_overrides_the_environment(monkeypatch, tmp_path):
    # setenv then delenv: the variables are absent now and absent again after the test,
    # although load_dotenv writes os.environ directly.
    for name in ("MAIL_TIMEOUT", "MAIL_MAX_ATTEMPTS"):
        monkeypatch.setenv(name, "0")
        monkeypatch.delenv(name)
    monkeypatch.setenv("MAIL_PORT", "2525")
    monkeypatch.setenv("ENGAGEMENT_INSTANCE", str(tmp_path / "instance"))
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".env").write_text("MAIL_TIMEOUT=12.5\nMAIL_PORT=26\nMAIL_MAX_ATTEMPTS=3\n")
    app = create_app()
    assert (app.config["MAIL_TIMEOUT"], app.config["MAIL_MAX_ATTEMPTS"]) == (12.5, 3)
    assert app.config["MAIL_PORT"] == 2525


def test_instance_config_py_overrides_the_environment(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    instance = tmp_path / "instance"
    instance.mkdir()
    (instance / "config.py").write_text("MAIL_MAX_ATTEMPTS = 2\n")
    monkeypatch.setenv("ENGAGEMENT_INSTANCE", str(instance))
    monkeypatch.setenv("MAIL_MAX_ATTEMPTS", "5")
    assert create_app().config["MAIL_MAX_ATTEMPTS"] == 2


def test_retry_base_from_the_environment_sets_the_next_attempt(
        monkeypatch, sqlite_template, tmp_path, smtp_server):  # noqa: F811
    """The report: MAIL_RETRY_BASE_SECONDS=1, SMTP down then up, mail waited 60 s anyway."""
    monkeypatch.setenv("MAIL_RETRY_BASE_SECONDS", "1")
    monkeypatch.setenv("MAIL_SERVER", "127.0.0.1")
    monkeypatch.setenv("MAIL_PORT", str(smtp_server.port))
    monkeypatch.setenv("MAIL_TIMEOUT", "10")
    app = _sqlite_app(sqlite_template, tmp_path)
    try:
        with app.app_context():
            outbox.enqueue(db.session, build_message(to="ada@example.org", subject="Hi",
                                                     text="Hello\n"), kind="test")
            db.session.commit()
            db.session.remove()
        smtp_server.fail_data("421 4.3.2 service not available")
        now = utcnow()
        deliver_all(app, now=now)
        with app.app_context():
            row = db.session.scalar(select(OutboxMessage))
            assert (row.status, row.attempts) == ("queued", 1)
            assert row.next_attempt_at - now == timedelta(seconds=1)
            db.session.remove()
        smtp_server.fail_data(None)  # the server is back
        deliver_all(app, now=now + timedelta(seconds=1))
        with app.app_context():
            assert db.session.scalar(select(OutboxMessage.status)) == "sent"
            db.session.remove()
        assert [m.rcpt_tos for m in smtp_server.messages] == [["ada@example.org"]]
    finally:
        with app.app_context():
            db.engine.dispose()
