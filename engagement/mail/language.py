"""The language a mail to a person is written in: one rule for every feature that sends."""
from __future__ import annotations

from collections.abc import Collection

from flask import current_app


def mail_language(locale: str | None, languages: Collection[str], default: str) -> str:
    """The person's language if we write it ('de-AT' -> 'de'), else `default`.

    Callers pass the app's LANGUAGES and BABEL_DEFAULT_LOCALE (the DEFAULT_LOCALE setting).
    """
    lang = (locale or "").strip().lower().replace("_", "-").split("-")[0]
    return lang if lang in languages else default


def configured_mail_language(locale: str | None) -> str:
    """`mail_language` with the app's LANGUAGES and default language."""
    config = current_app.config
    return mail_language(locale, config["LANGUAGES"], config["BABEL_DEFAULT_LOCALE"])
