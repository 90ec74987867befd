"""Reading calendar replies out of mails (engagement.events.calendar.imip): no app, no database.

The fixtures in tests/data/imip are shaped like what Outlook/Exchange, Google Calendar and
Apple Mail send (RFC 5546 §4 examples in their clients' MIME envelopes); the Thunderbird test
suite's real invitations (REQUEST / CANCEL / PUBLISH) come from ../shared/data.
"""
from __future__ import annotations

import base64
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path

import pytest

from engagement.events.calendar import imip

DATA = Path(__file__).resolve().parents[1] / "data" / "imip"
SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "data"
THUNDERBIRD = SHARED / "invitations-thunderbird"
UID = "20301001T120000Z-4f1c2a@engagement.example.org"


def parse(name: str) -> imip.ParsedMail:
    return imip.parse_message((DATA / name).read_bytes())


def test_outlook_reply_base64_with_exchange_properties():
    mail = parse("outlook-accepted.eml")
    assert mail.skipped is None
    assert mail.message_id == ("<AM0PR07MB4417A1B2C3D4E5F6@AM0PR07MB4417.eurprd07.prod."
                               "outlook.com>")
    assert mail.senders == frozenset({"bob.mueller@example.com"})
    assert mail.subject == "Accepted: Community Summit"
    [reply] = mail.replies
    assert (reply.method, reply.uid, reply.sequence, reply.recurrence_id) == (
        "REPLY", UID, 2, None)
    # MAILTO: in upper case and a mixed-case address: one lower-cased address.
    assert reply.attendees == (imip.ReplyAttendee("bob.mueller@example.com", "Bob Müller",
                                                  "ACCEPTED", None),)
    assert reply.dtstamp == datetime(2030, 10, 20, 10, 15, tzinfo=UTC)
    assert reply.comment == "Gern, bis dann!"


def test_google_reply_inline_and_attached_counts_once():
    mail = parse("google-declined.eml")
    assert mail.senders == frozenset({"carol.example@gmail.com"})
    [reply] = mail.replies
    assert reply.uid == UID and reply.sequence == 2
    # The folded ATTENDEE line keeps its CN and PARTSTAT.
    [attendee] = reply.attendees
    assert (attendee.email, attendee.name, attendee.partstat) == (
        "carol.example@gmail.com", "Carol Example", "DECLINED")
    assert reply.dtstamp == datetime(2030, 10, 21, 8, 30, tzinfo=UTC)


def test_apple_attachment_quoted_printable_and_dtend_with_duration():
    mail = parse("apple-tentative.eml")
    [reply] = mail.replies
    # METHOD only on the part's Content-Type: the parameter is the fallback.
    assert reply.method == "REPLY" and reply.sequence == 3
    assert reply.attendees[0].name == "Dörte Beispiel"
    assert reply.attendees[0].partstat == "TENTATIVE"


@pytest.mark.parametrize("name, code, detail", [
    ("rfc5546-counter.eml", imip.SKIP_NOT_REPLY, "METHOD:COUNTER"),
    ("no-method.eml", imip.SKIP_NO_METHOD, ""),
])
def test_mails_without_a_reply_are_skipped_with_the_reason(name, code, detail):
    mail = parse(name)
    assert (mail.skipped, mail.detail, mail.replies) == (code, detail, ())


def test_a_broken_calendar_is_skipped_not_raised():
    mail = parse("broken-calendar.eml")
    assert mail.skipped == imip.SKIP_INVALID
    assert "\n" not in mail.detail and mail.detail


def test_octet_stream_ics_in_windows_1252_is_read():
    [reply] = parse("delegated-octet-stream.eml").replies
    assert reply.attendees[0].name == "Jürgen Groß"
    assert reply.attendees[0].partstat == "DELEGATED"


def test_several_vevents_give_one_reply_each():
    replies = parse("recurrence-reply.eml").replies
    assert [(r.recurrence_id, r.attendees[0].partstat) for r in replies] == [
        (None, "ACCEPTED"), ("19970714T170000Z", "DECLINED")]


def test_plain_mail_is_not_a_calendar_mail():
    msg = EmailMessage()
    msg["From"] = "x@example.com"
    msg["Subject"] = "Hello"
    msg.set_content("no calendar here")
    mail = imip.parse_message(msg.as_bytes())
    assert mail.skipped == imip.SKIP_NOT_CALENDAR and mail.replies == ()


def test_garbage_bytes_do_not_raise():
    mail = imip.parse_message(b"\x00\xff\xfe not a mail \r\n\r\n\x80")
    assert mail.skipped == imip.SKIP_NOT_CALENDAR


def test_forwarded_reply_inside_message_rfc822_is_not_read():
    inner = (DATA / "outlook-accepted.eml").read_bytes()
    outer = EmailMessage()
    outer["From"] = "someone-else@example.com"
    outer["Subject"] = "Fwd: Accepted: Community Summit"
    outer.set_content("see below")
    outer.add_attachment(inner, maintype="message", subtype="rfc822")
    assert imip.parse_message(outer.as_bytes()).skipped == imip.SKIP_NOT_CALENDAR


def test_method_inside_the_calendar_wins_over_the_content_type_parameter():
    ics = (b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nMETHOD:COUNTER\r\nBEGIN:VEVENT\r\n"
           b"UID:u1\r\nDTSTAMP:20300101T000000Z\r\nATTENDEE;PARTSTAT=ACCEPTED:mailto:a@x.org\r\n"
           b"END:VEVENT\r\nEND:VCALENDAR\r\n")
    msg = EmailMessage()
    msg["From"] = "a@x.org"
    msg.set_content(ics, maintype="text", subtype="calendar", params={"method": "REPLY"})
    mail = imip.parse_message(msg.as_bytes())
    assert (mail.skipped, mail.detail) == (imip.SKIP_NOT_REPLY, "METHOD:COUNTER")


def test_base64_part_with_a_wrong_charset_label():
    ics = ("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nMETHOD:REPLY\r\nBEGIN:VEVENT\r\nUID:u2\r\n"
           "DTSTAMP:20300101T000000Z\r\nATTENDEE;CN=Zoë;PARTSTAT=ACCEPTED:mailto:z@x.org\r\n"
           "END:VEVENT\r\nEND:VCALENDAR\r\n").encode()
    raw = (b"From: z@x.org\r\nMessage-ID: <w@x>\r\nMIME-Version: 1.0\r\n"
           b"Content-Type: text/calendar; charset=\"no-such-charset\"; method=REPLY\r\n"
           b"Content-Transfer-Encoding: base64\r\n\r\n" + base64.encodebytes(ics))
    [reply] = imip.parse_message(raw).replies
    assert reply.attendees[0].name == "Zoë"


@pytest.mark.parametrize("value, expected", [
    ("mailto:A@Example.org", "a@example.org"),
    ("MAILTO:a@example.org", "a@example.org"),
    ("MailTo: <a@example.org> ", "a@example.org"),
    ("a@example.org", "a@example.org"),
    ("", ""),
])
def test_address(value, expected):
    assert imip.address(value) == expected


def _reply(*attendees: imip.ReplyAttendee, sequence: int = 1, recurrence_id=None,
           dtstamp=datetime(2030, 10, 20, 10, 0, tzinfo=UTC)) -> imip.CalendarReply:
    return imip.CalendarReply("REPLY", "u", sequence, recurrence_id, attendees, dtstamp, "")


BOB = imip.ReplyAttendee("bob@example.com", "Bob", "ACCEPTED", None)


def test_answering_attendee_is_the_sender_or_its_delegate():
    other = imip.ReplyAttendee("eve@example.com", "Eve", "DECLINED", None)
    reply = _reply(other, BOB)
    assert imip.answering_attendee(reply, frozenset({"bob@example.com"})) == BOB
    assert imip.answering_attendee(reply, frozenset({"mallory@example.com"})) is None
    delegate = imip.ReplyAttendee("boss@example.com", "Boss", "ACCEPTED",
                                  "assistant@example.com")
    sender = frozenset({"assistant@example.com"})
    # SENT-BY is the sender's claim: it counts only for a delegate recorded for the attendee.
    assert imip.answering_attendee(_reply(delegate), sender) is None
    assert imip.claimed_delegate(_reply(delegate), sender) == delegate
    assert imip.answering_attendee(_reply(delegate), sender, {
        "boss@example.com": frozenset({"assistant@example.com"})}) == delegate
    assert imip.answering_attendee(_reply(delegate), sender, {
        "eve@example.com": frozenset({"assistant@example.com"})}) is None
    decision = imip.decide(_reply(delegate), None, event_sequence=0, invitation_status="invited",
                           responded_at=None, claimed=delegate)
    assert decision.reason == "unrecorded_delegate"


EARLIER = datetime(2030, 10, 19, tzinfo=UTC)
LATER = datetime(2030, 10, 21, tzinfo=UTC)


@pytest.mark.parametrize("reply, attendee, kw, expected", [
    (_reply(BOB), BOB, {}, imip.Decision(status="accepted")),
    (_reply(BOB, sequence=3), BOB, {}, imip.Decision(status="accepted")),  # newer is fine
    (_reply(BOB, sequence=0), BOB, {}, imip.IGNORE_OUTDATED),
    (_reply(BOB, recurrence_id="20301105T170000Z"), BOB, {}, imip.IGNORE_OCCURRENCE),
    (_reply(), None, {}, imip.IGNORE_NO_ATTENDEE),
    (_reply(BOB), None, {}, imip.IGNORE_SENDER),
    (_reply(BOB), BOB, {"invitation_status": None}, imip.IGNORE_NOT_INVITED),
    (_reply(BOB), BOB, {"responded_at": LATER}, imip.IGNORE_STALE),
    (_reply(BOB), BOB, {"responded_at": EARLIER}, imip.Decision(status="accepted")),
    (_reply(BOB), BOB, {"invitation_status": "accepted"}, imip.IGNORE_UNCHANGED),
    # A waitlisted person may hold an offer: only the RSVP use case can tell.
    (_reply(BOB), BOB, {"invitation_status": "waitlisted"}, imip.Decision(status="accepted")),
    (_reply(BOB, dtstamp=None), BOB, {"responded_at": LATER}, imip.Decision(status="accepted")),
])
def test_decide(reply, attendee, kw, expected):
    values = {"event_sequence": 1, "invitation_status": "invited", "responded_at": None, **kw}
    decision = imip.decide(reply, attendee, **values)
    if isinstance(expected, str):
        assert decision.status is None and decision.reason == expected and decision.detail
    else:
        assert decision == expected


@pytest.mark.parametrize("partstat, status", [
    ("ACCEPTED", "accepted"), ("TENTATIVE", "tentative"), ("DECLINED", "declined"),
    ("DELEGATED", None), ("NEEDS-ACTION", None), ("", None)])
def test_decide_partstat(partstat, status):
    attendee = imip.ReplyAttendee("bob@example.com", "", partstat, None)
    decision = imip.decide(_reply(attendee), attendee, event_sequence=0,
                           invitation_status="invited", responded_at=None)
    assert decision.status == status
    if status is None:
        assert decision.reason == imip.IGNORE_PARTSTAT


def test_every_thunderbird_invitation_is_skipped_with_a_reason():
    files = sorted(THUNDERBIRD.glob("*.eml"))
    assert len(files) == 16
    found = {f.name: imip.parse_message(f.read_bytes()) for f in files}
    assert all(m.replies == () for m in found.values())
    assert {m.skipped for m in found.values()} == {imip.SKIP_NOT_REPLY}
    assert found["cancel-single-event.eml"].detail == "METHOD:CANCEL"
    assert found["outlook-test-invite.eml"].detail == "METHOD:REQUEST"
    assert found["message-non-invite.eml"].detail == "METHOD:PUBLISH"
