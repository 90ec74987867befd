"""The one mail language rule: the person's language if we write it, else the configured one."""
from __future__ import annotations

import pytest

from engagement.mail.language import mail_language


@pytest.mark.parametrize(("locale", "default", "expected"), [
    ("de", "de", "de"), ("de-AT", "en", "de"), ("en_GB", "de", "en"), ("EN", "de", "en"),
    ("tr", "de", "de"), ("tr", "en", "en"), (None, "de", "de"), ("", "en", "en")])
def test_mail_language(locale, default, expected):
    assert mail_language(locale, ["de", "en"], default) == expected
