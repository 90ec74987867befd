"""Mailing rules: safe Markdown rendering, input checks and unsubscribe tokens (pure)."""
from __future__ import annotations

import re
from html.parser import HTMLParser

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


def invite_opt_out_token(secret: str, member_id: int) -> str:
    """A signed, non-expiring token that can only stop the member's event invitations."""
    return signing.make("invite-opt-out", {"m": int(member_id)}, secret=secret)


def member_from_token(secret: str, token: str, kind: str = "unsubscribe") -> int | None:
    """The member id in a valid token of `kind`, None for a forged or damaged one."""
    try:
        data = signing.read(kind, token, secret=secret)
    except signing.LinkInvalid:
        return None
    member_id = data.get("m") if isinstance(data, dict) else None
    return member_id if isinstance(member_id, int) and not isinstance(member_id, bool) else None



class _TextWriter(HTMLParser):
    """The sanitised mailing HTML as readable plain text (links as "text (url)")."""

    _BLOCKS = {"p", "h1", "h2", "h3", "h4", "blockquote", "pre", "table", "ul", "ol", "hr"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []
        self.links: list[tuple[str, int]] = []  # (href, position of the link text)
        self.lists: list[list[int]] = []  # counters of open lists (0 = bullets)
        self.pre = 0

    def _block(self) -> None:
        text = "".join(self.out).rstrip(" ")
        if text and not text.endswith("\n\n"):
            self.out = [text.rstrip("\n") + "\n\n"]

    def handle_starttag(self, tag, attrs):
        if tag in self._BLOCKS:
            self._block()
        if tag in ("ul", "ol"):
            self.lists.append([1 if tag == "ol" else 0])
        elif tag == "li":
            text = "".join(self.out)
            if text and not text.endswith("\n"):
                self.out.append("\n")
            indent = "  " * max(len(self.lists) - 1, 0)
            counter = self.lists[-1] if self.lists else [0]
            self.out.append(f"{indent}{counter[0]}. " if counter[0] else f"{indent}- ")
            if counter[0]:
                counter[0] += 1
        elif tag == "br":
            self.out.append("\n")
        elif tag == "hr":
            self.out.append("----\n\n")
        elif tag == "a":
            self.links.append((dict(attrs).get("href") or "", len("".join(self.out))))
        elif tag == "pre":
            self.pre += 1
        elif tag in ("td", "th"):
            self.out.append(" | " if not "".join(self.out).endswith("\n") else "")

    def handle_endtag(self, tag):
        if tag == "a" and self.links:
            href, start = self.links.pop()
            label = "".join(self.out)[start:].strip()
            if href and href not in (label, f"mailto:{label}"):
                self.out.append(f" ({href})")
        elif tag in ("ul", "ol"):
            if self.lists:
                self.lists.pop()
            if not self.lists:
                self._block()
        elif tag == "pre":
            self.pre -= 1
        elif tag == "tr":
            self.out.append("\n")
        if tag in self._BLOCKS - {"ul", "ol", "hr"}:
            self._block()

    def handle_data(self, data):
        if not self.pre:
            data = re.sub(r"\s+", " ", data)
            if "".join(self.out).endswith(("\n", " ")) or not self.out:
                data = data.lstrip()
        self.out.append(data)

    def text(self) -> str:
        text = "\n".join(line.rstrip() for line in "".join(self.out).split("\n"))
        return re.sub(r"\n{3,}", "\n\n", text).strip()


def markdown_to_text(body: str) -> str:
    """The plain-text part of a mailing: the rendered Markdown as text, not its source."""
    writer = _TextWriter()
    writer.feed(render_markdown(body))
    writer.close()
    return writer.text()
