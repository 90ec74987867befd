"""Mailings as the mailbox provider receives them: raw List-Unsubscribe headers, text part."""
from __future__ import annotations

import re
from datetime import UTC, datetime

from engagement.community.mailings import services
from engagement.extensions import db
from engagement.mail.compose import SMTP_POLICY, build_message, list_unsubscribe_headers
from tests.factories import make_member, make_segment, make_tier
from tests.mail_fixtures import deliver_all

NOW = datetime(2026, 11, 20, 12, tzinfo=UTC)


def _raw_header(raw: bytes, name: str) -> str:
    """The header exactly as on the wire, continuation lines included."""
    head = raw.split(b"\r\n\r\n", 1)[0].decode("ascii")
    match = re.search(rf"^{name}:([^\r\n]*(?:\r\n[ \t][^\r\n]*)*)", head, re.M | re.I)
    assert match, f"no {name} header"
    return match.group(1)


def test_list_unsubscribe_is_a_plain_url_list_never_an_encoded_word(app):
    long_url = "https://community.example.org/unsubscribe/" + "A" * 150 + "/one-click"
    with app.app_context():
        msg = build_message(to="a@example.org", subject="Hi", text="x",
                            headers=list_unsubscribe_headers(
                                long_url, mailto="leave@example.org"))
        raw = msg.as_bytes(policy=SMTP_POLICY)
    value = _raw_header(raw, "List-Unsubscribe")
    assert "=?" not in value
    assert value == f" <{long_url}>,\r\n <mailto:leave@example.org>"
    assert all(len(line) <= 998 for line in raw.split(b"\r\n"))
    assert _raw_header(raw, "List-Unsubscribe-Post") == " List-Unsubscribe=One-Click"


def test_a_mailing_received_over_smtp_carries_rfc_8058_headers_and_a_text_part(
        app, smtp_server):
    smtp_server.configure(app)
    with app.app_context():
        tier = make_tier("HdrTier", 204, "answers >= 1")
        make_member(display_name="Hanna Huber", email="hanna@example.org", locale="en",
                    tier_id=tier.id)
        segment = make_segment("Header people", {"tiers": ["HdrTier"]})
        mailing = services.save_draft(
            db.session, subject="Meetup", segment=segment, now=NOW,
            body="Hello **everyone**, see [the agenda](https://example.org/agenda).\n\n"
                 "- *one*\n- two")
        services.send(db.session, mailing, now=NOW)
        db.session.commit()
    deliver_all(app)
    [received] = smtp_server.messages
    value = _raw_header(received.raw, "List-Unsubscribe").strip()
    assert "=?" not in value
    assert re.fullmatch(r"<http://localhost/unsubscribe/[^<>\s]+/one-click>", value)
    assert _raw_header(received.raw, "List-Unsubscribe-Post").strip() == (
        "List-Unsubscribe=One-Click")
    text = received.message.get_body(("plain",)).get_content()
    assert "Hello everyone, see the agenda (https://example.org/agenda)." in text
    assert "**" not in text and "[the agenda]" not in text and "*one*" not in text
    assert "one" in text and "two" in text
