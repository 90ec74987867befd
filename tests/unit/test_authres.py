"""Authentication-Results (RFC 8601): only the trusted server's topmost header counts."""
from __future__ import annotations

import pytest

from engagement.events.calendar import authres

MX = "mx.example.org"


@pytest.mark.parametrize("headers, domain, expected", [
    ([], "example.org", "none"),
    ([f"{MX}; dmarc=pass header.from=example.org"], "example.org", "pass"),
    ([f"{MX.upper()} 1; dmarc=pass (p=reject dis=none) header.from=example.org"],
     "example.org", "pass"),
    ([f"{MX}; dmarc=fail (p=none) header.from=example.org"], "example.org", "fail"),
    ([f"{MX}; dmarc=fail"], "example.org", "fail"),  # no header.from: about the From domain
    # A DMARC result about another domain says nothing about this one.
    ([f"{MX}; dmarc=fail header.from=other.example"], "example.org", "none"),
    ([f"{MX}; dkim=pass header.d=example.org; spf=fail smtp.mailfrom=x.example"],
     "example.org", "pass"),
    ([f"{MX}; dkim=pass header.d=mail.example.org"], "example.org", "pass"),  # relaxed
    ([f"{MX}; dkim=pass header.d=evil.example; spf=fail smtp.mailfrom=evil.example"],
     "example.org", "fail"),  # passes, but for an unaligned domain
    ([f"{MX}; spf=pass smtp.mailfrom=bounce@example.org"], "example.org", "pass"),
    ([f"{MX}; dkim=none; spf=softfail smtp.mailfrom=example.org"], "example.org", "fail"),
    ([f"{MX}; dkim=temperror; spf=temperror"], "example.org", "none"),
    ([f"{MX}; none"], "example.org", "none"),
    (["mx.evil.example; dmarc=pass header.from=example.org"], "example.org", "none"),
    (["mx.example.org.evil.example; dmarc=pass"], "example.org", "none"),
    # Topmost trusted header wins; one below it with the same id came with the message.
    ([f"{MX}; dmarc=fail header.from=example.org", f"{MX}; dmarc=pass"], "example.org",
     "fail"),
    (["mx.evil.example; dmarc=fail", f"{MX}; dmarc=pass"], "example.org", "pass"),
    # Quoted strings and comments do not split results.
    ([f'{MX}; dkim=fail reason="bad; sig (x)" header.d=example.org; spf=fail'],
     "example.org", "fail"),
])
def test_verdict(headers, domain, expected):
    assert authres.verdict(headers, MX, domain).state == expected


def test_without_a_trusted_id_nothing_is_believed():
    headers = ["mx.example.org; dmarc=fail header.from=example.org"]
    assert authres.verdict(headers, None, "example.org").state == "none"
    assert authres.verdict(headers, "", "example.org").state == "none"
