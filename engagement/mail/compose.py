"""Build complete MIME messages (text, HTML, iCalendar, attachments) with safe headers."""
from __future__ import annotations

import re
import uuid
from collections.abc import Mapping, Sequence
from email.errors import HeaderParseError
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import EmailPolicy
from email.utils import format_datetime, parseaddr
from urllib.parse import urlsplit

from flask import current_app

from ..timeutil import utcnow
from .rules import has_line_break

# Headers that describe the MIME structure are ours to set; a caller overriding them
# would produce a message whose declared structure does not match its body.
_RESERVED = {"content-type", "content-transfer-encoding", "mime-version", "message-id", "date",
             "from", "to", "cc", "bcc", "subject", "reply-to"}
_HEADER_NAME = re.compile(r"^[!-9;-~]+$")  # RFC 5322 field name: printable ASCII except ':'
_METHOD = re.compile(r"^[A-Z][A-Z-]{0,31}$")


class InvalidMessage(ValueError):
    """The message cannot be built as given (bad address, header injection, bad part)."""


# Headers whose value is a list of `<URL>`s (RFC 2369, RFC 8058). The default policy folds
# an over-long word into RFC 2047 encoded words (`=?utf-8?q?=3Chttps…?=`), which no mail
# provider reads as a URL; these are folded only between the URLs, never encoded.
URL_LIST_HEADERS = frozenset({"list-unsubscribe", "list-help", "list-subscribe", "list-post",
                              "list-owner", "list-archive"})
_MAX_LINE = 998  # RFC 5322 2.1.1: the hard limit (78 is only a SHOULD)


def fold_url_list(name: str, value: str, linesep: str = "\n") -> str:
    """`Name: <a>,<linesep> <b><linesep>`: one URL per line, no encoded words."""
    urls = [u.strip() for u in str(value).split(",") if u.strip()]
    return f"{name}: " + ("," + linesep + " ").join(urls) + linesep


class MailPolicy(EmailPolicy):
    """email.policy.default, except that URL-list headers are folded between their URLs."""

    def _fold(self, name, value, refold_binary=False):  # noqa: D401 (policy hook)
        if name.lower() in URL_LIST_HEADERS:
            return fold_url_list(name, str(value), self.linesep)
        return super()._fold(name, value, refold_binary=refold_binary)


POLICY = MailPolicy()
SMTP_POLICY = POLICY.clone(linesep="\r\n")  # what the outbox stores and SMTP sends


def list_unsubscribe_headers(url: str, mailto: str | None = None) -> dict[str, str]:
    """RFC 2369 `List-Unsubscribe` (`<https://…>`, optionally `<mailto:…>`) and RFC 8058
    `List-Unsubscribe-Post: List-Unsubscribe=One-Click` (the URL must take the POST)."""
    if urlsplit(url).scheme not in ("https", "http"):
        raise InvalidMessage(f"List-Unsubscribe needs an http(s) URL: {url!r}")
    urls = [f"<{url}>"]
    if mailto:
        urls.append(f"<mailto:{mailto}>" if not mailto.startswith("mailto:") else f"<{mailto}>")
    return {"List-Unsubscribe": ", ".join(urls),
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"}


def _check(name: str, value: str | None) -> None:
    if value is not None and has_line_break(value):
        raise InvalidMessage(f"line break or control character in header {name}")


def _address(value: str, display_name: str | None = None, header: str = "address") -> Address:
    _check(header, value)
    _check(header, display_name)
    name, addr = parseaddr(value)
    if not addr or "@" not in addr:
        raise InvalidMessage(f"not an e-mail address in {header}: {value!r}")
    try:
        return Address(display_name=display_name if display_name is not None else name,
                       addr_spec=addr)
    except (ValueError, IndexError, HeaderParseError) as exc:
        raise InvalidMessage(f"not an e-mail address in {header}: {value!r}") from exc


def default_sender() -> Address:
    """MAIL_DEFAULT_SENDER as an address (Flask-Mail's (name, address) form allowed)."""
    sender = current_app.config["MAIL_DEFAULT_SENDER"] or "engagement@localhost"
    if isinstance(sender, tuple | list):  # Flask-Mail allows (name, address)
        return _address(sender[1], sender[0], "From")
    return _address(sender, header="From")


def message_id_domain(sender: Address) -> str:
    """Our own domain for Message-IDs: the sender's, else the host of BASE_URL."""
    domain = sender.domain or urlsplit(current_app.config["BASE_URL"] or "").hostname
    return domain or "localhost"


def new_message_id(domain: str) -> str:
    """A globally unique Message-ID, `<uuid@domain>`."""
    return f"<{uuid.uuid4().hex}@{domain}>"


def build_message(
    *, to: str, subject: str, text: str, html: str | None = None,
    calendar: tuple[bytes, str] | None = None,
    attachments: Sequence[tuple[str, str, bytes]] = (),
    sender: str | None = None, reply_to: str | None = None,
    headers: Mapping[str, str] | None = None, to_name: str | None = None,
) -> EmailMessage:
    """Build the final message: [mixed[ alternative[plain, html, calendar], attachments… ]]."""
    _check("Subject", subject)
    from_addr = _address(sender, header="From") if sender else default_sender()
    msg = EmailMessage(policy=POLICY)
    msg["Subject"] = subject
    msg["From"] = from_addr
    msg["To"] = _address(to, to_name, "To")
    if reply_to:
        msg["Reply-To"] = _address(reply_to, header="Reply-To")
    msg["Date"] = format_datetime(utcnow())
    msg["Message-ID"] = new_message_id(message_id_domain(from_addr))
    extra = dict(headers or {})
    for name, value in extra.items():
        if not _HEADER_NAME.match(name) or name.lower() in _RESERVED:
            raise InvalidMessage(f"header {name!r} cannot be set here")
        _check(name, value)
        if name.lower() in URL_LIST_HEADERS:
            urls = [u.strip() for u in value.split(",")]
            if not value.isascii() or any(
                    not (u.startswith("<") and u.endswith(">")) or " " in u
                    or len(u) + len(name) + 3 > _MAX_LINE for u in urls):
                raise InvalidMessage(f"header {name} must be a list of <URL>s")
    # Content-* headers (Content-Language, …) are set after the body: set_content() and
    # make_mixed() clear every Content-* header of the message they change.
    later = {k: v for k, v in extra.items() if k.lower().startswith("content-")}
    for name, value in extra.items():
        if name not in later:
            del msg[name]
            msg[name] = value

    # Quoted-printable keeps the text readable in raw form and lines short for SMTP.
    msg.set_content(text, subtype="plain", charset="utf-8", cte="quoted-printable")
    if html is not None:
        msg.add_alternative(html, subtype="html", charset="utf-8", cte="quoted-printable")
    if calendar is not None:
        ics, method = calendar
        if not _METHOD.match(method):
            raise InvalidMessage(f"bad iCalendar METHOD {method!r}")
        # base64 keeps the iCalendar CRLF line endings byte for byte, which strict
        # calendar clients (Outlook) rely on.
        msg.add_alternative(ics, maintype="text", subtype="calendar", cte="base64",
                            params={"charset": "UTF-8", "method": method})
    for filename, mime_type, data in attachments:
        _check("attachment filename", filename)
        maintype, _slash, subtype = mime_type.partition("/")
        if not maintype or not subtype or has_line_break(mime_type):
            raise InvalidMessage(f"bad attachment type {mime_type!r}")
        # `name=` on the Content-Type as well: older Outlook versions only read that one.
        msg.add_attachment(data, maintype=maintype, subtype=subtype, filename=filename,
                           params={"name": filename})
    for name, value in later.items():
        del msg[name]
        msg[name] = value
    return msg
