"""MIME structure and header safety of composed messages (parsed back with `email`)."""
from __future__ import annotations

import email
import email.policy
from email.utils import parsedate_to_datetime

import pytest
from flask import Flask

from engagement.mail.compose import InvalidMessage, build_message

ICS = (b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nMETHOD:REQUEST\r\nPRODID:-//test//EN\r\n"
       b"BEGIN:VEVENT\r\nUID:e1@example.com\r\nSUMMARY:Sommerfest \xc3\xa4\r\nEND:VEVENT\r\n"
       b"END:VCALENDAR\r\n")


@pytest.fixture
def ctx():
    app = Flask(__name__)
    app.config.update(MAIL_DEFAULT_SENDER="Community Team <team@mail.example.com>",
                      BASE_URL="https://engage.example.com")
    with app.app_context():
        yield app


def _roundtrip(msg):
    return email.message_from_bytes(msg.as_bytes(policy=email.policy.SMTP),
                                    policy=email.policy.default)


def test_plain_message_headers(ctx):
    msg = _roundtrip(build_message(to="anna@example.org", to_name="Anna Müller",
                                   subject="Grüße aus dem Team", text="Hallo Anna\n"))
    assert msg.get_content_type() == "text/plain"
    assert msg["Subject"] == "Grüße aus dem Team"
    assert msg["To"].addresses[0].display_name == "Anna Müller"
    assert msg["To"].addresses[0].addr_spec == "anna@example.org"
    assert msg["From"].addresses[0].addr_spec == "team@mail.example.com"
    assert msg["Message-ID"].endswith("@mail.example.com>")
    assert parsedate_to_datetime(msg["Date"]).tzinfo is not None
    assert msg.get_content().replace("\r\n", "\n") == "Hallo Anna\n"
    assert msg["Content-Transfer-Encoding"] == "quoted-printable"


def test_alternative_with_calendar_and_attachment(ctx):
    msg = _roundtrip(build_message(
        to="anna@example.org", subject="Einladung", text="Text https://engage.example.com/i/1",
        html="<p><a href=\"https://engage.example.com/i/1\">Antworten</a></p>",
        calendar=(ICS, "REQUEST"), attachments=[("invite.ics", "application/ics", ICS)],
        reply_to="organizer@example.com",
        headers={"List-Unsubscribe": "<https://engage.example.com/u/x>",
                 "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"}))
    assert msg.get_content_type() == "multipart/mixed"
    alternative, attachment = list(msg.iter_parts())
    assert alternative.get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in alternative.iter_parts()] == [
        "text/plain", "text/html", "text/calendar"]
    cal = list(alternative.iter_parts())[2]
    assert cal.get_param("method") == "REQUEST"
    assert cal.get_content_charset() == "utf-8"
    assert cal.get_payload(decode=True) == ICS  # byte for byte, CRLF kept
    assert attachment.get_content_type() == "application/ics"
    assert attachment.get_filename() == "invite.ics"
    assert attachment.get_param("name") == "invite.ics"
    assert attachment.get_payload(decode=True) == ICS
    assert msg["Reply-To"].addresses[0].addr_spec == "organizer@example.com"
    assert msg["List-Unsubscribe"] == "<https://engage.example.com/u/x>"
    assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert "https://engage.example.com/i/1" in msg.get_body(("html",)).get_content()


def test_no_mixed_wrapper_without_attachments(ctx):
    msg = _roundtrip(build_message(to="a@example.org", subject="s", text="t", html="<p>t</p>"))
    assert msg.get_content_type() == "multipart/alternative"


def test_message_ids_are_unique(ctx):
    ids = {build_message(to="a@example.org", subject="s", text="t")["Message-ID"]
           for _ in range(50)}
    assert len(ids) == 50


def test_sender_override_and_tuple_default(ctx):
    ctx.config["MAIL_DEFAULT_SENDER"] = ("Team", "team@example.net")
    msg = build_message(to="a@example.org", subject="s", text="t")
    assert msg["From"].addresses[0].addr_spec == "team@example.net"
    msg = build_message(to="a@example.org", subject="s", text="t", sender="x@other.org")
    assert msg["From"].addresses[0].addr_spec == "x@other.org"
    assert msg["Message-ID"].endswith("@other.org>")


@pytest.mark.parametrize("kwargs", [
    {"subject": "Hi\r\nBcc: victim@example.org"},
    {"to": "a@example.org\r\nBcc: victim@example.org"},
    {"to_name": "Anna\nBcc: victim@example.org"},
    {"reply_to": "r@example.org\nX-Evil: 1"},
    {"headers": {"X-Custom": "a\r\nBcc: victim@example.org"}},
    {"headers": {"Bad Name": "x"}},
    {"headers": {"Content-Type": "text/html"}},
    {"headers": {"Bcc": "victim@example.org"}},
    {"to": "not-an-address"},
    {"calendar": (ICS, "REQUEST\r\nX")},
    {"attachments": [("a\r\n.ics", "text/calendar", b"x")]},
    {"attachments": [("a.ics", "calendar", b"x")]},
])
def test_rejects_injection_and_bad_values(ctx, kwargs):
    base = dict(to="a@example.org", subject="s", text="t")
    with pytest.raises(InvalidMessage):
        build_message(**{**base, **kwargs})


def test_content_headers_survive_the_body_parts(ctx):
    # set_content()/make_mixed() clear Content-* headers: they must be set afterwards.
    for calendar, attachments in ((None, ()), ((ICS, "REQUEST"), [("a.ics", "text/calendar",
                                                                     ICS)])):
        msg = _roundtrip(build_message(
            to="a@example.org", subject="Hi", text="Hallo\n", html="<p>Hallo</p>",
            calendar=calendar, attachments=attachments,
            headers={"Content-Language": "de", "Auto-Submitted": "auto-generated"}))
        assert msg["Content-Language"] == "de"
        assert msg["Auto-Submitted"] == "auto-generated"
        assert msg.get_content_type() == ("multipart/mixed" if attachments
                                          else "multipart/alternative")
