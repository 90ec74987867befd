"""Mailing rules: safe Markdown rendering, input checks and unsubscribe tokens (pure)."""
from __future__ import annotations

import markdown
import nh3

from ... import signing

MAX_SUBJECT = 200
MAX_BODY = 100_000

# What a mailing may contain: text structure, links and emphasis. No images (tracking
# pixels, remote content), no styles, no forms or scripts.
ALLOWED_TAGS = {"a", "abbr", "b", "blockquote", "br", "code", "em", "h1", "h2", "h3", "h4",
                "hr", "i", "li", "ol", "p", "pre", "strong", "table", "tbody", "td", "th",
                "thead", "tr", "ul"}
ALLOWED_ATTRIBUTES = {"a": {"href", "title"}, "abbr": {"title"}, "td": {"align"},
                      "th": {"align"}}
URL_SCHEMES = {"http", "https", "mailto"}


class InvalidMailing(ValueError):
    """Subject or body cannot be sent as given; the message says why."""


def render_markdown(body: str) -> str:
    """Markdown to HTML that is safe to show in the app and to send (sanitised with nh3)."""
    html = markdown.markdown(body or "", extensions=["sane_lists", "tables", "fenced_code"],
                             output_format="html")
    return nh3.clean(html, tags=ALLOWED_TAGS, attributes=ALLOWED_ATTRIBUTES,
                     url_schemes=URL_SCHEMES, link_rel="noopener noreferrer")


def check_subject(subject: str) -> str:
    """A one-line subject of 1..200 characters."""
    subject = (subject or "").strip()
    if not subject:
        raise InvalidMailing("The subject is empty.")
    if "\n" in subject or "\r" in subject:
        raise InvalidMailing("The subject must be a single line.")
    if len(subject) > MAX_SUBJECT:
        raise InvalidMailing(f"The subject is longer than {MAX_SUBJECT} characters.")
    return subject


def check_body(body: str) -> str:
    """A non-empty Markdown body of sensible size (line endings normalised)."""
    body = (body or "").replace("\r\n", "\n").replace("\r", "\n").strip()
    if not body:
        raise InvalidMailing("The text is empty.")
    if len(body) > MAX_BODY:
        raise InvalidMailing(f"The text is longer than {MAX_BODY} characters.")
    return body


def unsubscribe_token(secret: str, member_id: int) -> str:
    """A signed, non-expiring token naming the member (it can only unsubscribe them)."""
    return signing.make("unsubscribe", {"m": int(member_id)}, secret=secret)


def member_from_token(secret: str, token: str) -> int | None:
    """The member id in a valid token, None for a forged or damaged one."""
    try:
        data = signing.read("unsubscribe", token, secret=secret)
    except signing.LinkInvalid:
        return None
    member_id = data.get("m") if isinstance(data, dict) else None
    return member_id if isinstance(member_id, int) and not isinstance(member_id, bool) else None

