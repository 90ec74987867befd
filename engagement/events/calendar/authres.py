"""Whether the receiving mail server authenticated a reply's From domain (RFC 8601, pure).

Only an `Authentication-Results` header whose authserv-id is the operator's own receiving
server (setting INBOUND_AUTHSERV_ID) says anything: every other one was written by whoever
sent the mail. Of the headers with that id only the topmost counts: a receiving server
prepends its trace headers, so anything below it with the same id came in with the message
(RFC 8601 §5 asks servers to remove such forgeries; not all do).

The verdict for the From domain:
- "fail": DMARC failed for it, or (no DMARC result) DKIM and SPF were both checked and
  neither passed for an aligned domain;
- "pass": DMARC passed, or DKIM or SPF passed for an aligned domain;
- "none": no trusted header, or it decides nothing (temperror, no results).
"""
from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

PASS, FAIL, NONE = "pass", "fail", "none"
_QUOTED = re.compile(r'"(?:[^"\\]|\\.)*"')
_COMMENT = re.compile(r"\([^()]*\)")


@dataclass(frozen=True)
class Result:
    """One resinfo: `dkim=pass header.d=example.org`."""

    method: str
    result: str
    props: dict[str, str]


@dataclass(frozen=True)
class Verdict:
    """What the trusted server found for the From domain, and the words that say so."""

    state: str  # PASS, FAIL or NONE
    detail: str


def _clean(value: str) -> str:
    text = _QUOTED.sub('""', " ".join(value.split()))
    previous = None
    while previous != text:  # comments nest: strip the innermost until none is left
        previous, text = text, _COMMENT.sub(" ", text)
    return text


def parse(value: str) -> tuple[str, list[Result]]:
    """(authserv-id lower-cased, results) of one header value; ("", []) when unreadable."""
    pieces = [p.strip() for p in _clean(value).split(";")]
    head = pieces[0].split()
    if not head:
        return "", []
    results = []
    for piece in pieces[1:]:
        words = piece.split()
        if not words or "=" not in words[0]:
            continue
        method, _eq, result = words[0].partition("=")
        props = {}
        for word in words[1:]:
            key, eq, val = word.partition("=")
            if eq:
                props[key.lower()] = val.strip().strip("<>").lower()
        results.append(Result(method.split("/")[0].lower(), result.lower(), props))
    return head[0].lower(), results


def aligned(domain: str, from_domain: str) -> bool:
    """Relaxed alignment (RFC 7489 §3.1): the same domain or one a subdomain of the other."""
    domain, from_domain = domain.rsplit("@", 1)[-1], from_domain
    if not domain or not from_domain:
        return False
    return (domain == from_domain or from_domain.endswith("." + domain)
            or domain.endswith("." + from_domain))


def _words(results: list[Result]) -> str:
    return "; ".join(f"{r.method}={r.result}" for r in results)


def verdict(headers: Sequence[str], authserv_id: str | None, from_domain: str) -> Verdict:
    """The trusted server's verdict on `from_domain`; headers in message order (top first)."""
    trusted = (authserv_id or "").strip().lower()
    if not trusted:
        return Verdict(NONE, "no trusted receiving server configured")
    for value in headers:
        server, results = parse(value)
        if server == trusted:
            break
    else:
        return Verdict(NONE, f"no Authentication-Results from {trusted}")
    from_domain = from_domain.lower()
    dmarc = [r for r in results if r.method == "dmarc"
             and aligned(r.props.get("header.from", from_domain), from_domain)]
    words = f"{trusted}: {_words(results) or 'no results'}"
    if any(r.result == FAIL for r in dmarc):
        return Verdict(FAIL, words)
    if any(r.result == PASS for r in dmarc):
        return Verdict(PASS, words)
    dkim = [r for r in results if r.method == "dkim"]
    spf = [r for r in results if r.method == "spf"]
    if any(r.result == PASS and aligned(r.props.get("header.d", r.props.get("header.i", "")),
                                        from_domain) for r in dkim):
        return Verdict(PASS, words)
    if any(r.result == PASS and aligned(r.props.get("smtp.mailfrom", ""), from_domain)
           for r in spf):
        return Verdict(PASS, words)
    checked = {"fail", "softfail", "none", "neutral", "permerror", "policy", PASS}
    if dkim and spf and all(r.result in checked for r in dkim + spf):
        return Verdict(FAIL, words)  # both looked at, neither vouches for the From domain
    return Verdict(NONE, words)
