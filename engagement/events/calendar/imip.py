"""Reading calendar replies (iMIP, RFC 6047 / iTIP, RFC 5546) out of raw e-mail messages.

Pure: bytes in, values out; no Flask, no database. What real clients send and this copes with:
- Outlook/Exchange: `text/calendar; method=REPLY` (often base64), subject "Accepted: ...",
  X-MICROSOFT-CDO-* properties, one ATTENDEE, COMMENT when the person wrote a note.
- Google Calendar: `text/calendar; method=REPLY` inline plus the same object attached as
  `invite.ics` (`application/ics`); ATTENDEE with CN and PARTSTAT.
- Apple Mail / others: the .ics only as an attachment, sometimes `application/octet-stream`
  with a `.ics` file name; METHOD only inside the VCALENDAR or only on the Content-Type.
- Broken objects (DTEND and DURATION together, unknown Windows time-zone names): only the
  properties a reply needs are read, so such mails never make the reader fail.
Mails forwarded as attachments (message/rfc822 parts) are not looked into: a reply someone
forwarded is not that person's answer.
"""
from __future__ import annotations

import email
import email.policy
import email.utils
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from email.message import Message

from icalendar import Calendar

CALENDAR_TYPES = frozenset({"text/calendar", "application/ics", "text/x-vcalendar",
                            "application/x-ics", "text/ics"})
REPLY = "REPLY"

# Why a whole message is skipped (nothing in it is a reply to apply): code -> explanation.
SKIP_NOT_CALENDAR = "not_calendar"
SKIP_NO_METHOD = "no_method"
SKIP_INVALID = "invalid_calendar"
SKIP_NOT_REPLY = "not_reply"
SKIP_NO_EVENT = "no_vevent"
SKIP_UNREADABLE = "unreadable"
SKIP_TEXT = {
    SKIP_NOT_CALENDAR: "no calendar part",
    SKIP_NO_METHOD: "calendar without METHOD",
    SKIP_INVALID: "the calendar cannot be read",
    SKIP_NOT_REPLY: "not a reply",
    SKIP_NO_EVENT: "calendar reply without VEVENT",
    SKIP_UNREADABLE: "the message cannot be read",
}


@dataclass(frozen=True)
class ReplyAttendee:
    """One ATTENDEE line of a reply."""

    email: str  # lower-cased address without "mailto:"
    name: str
    partstat: str  # upper-case, e.g. ACCEPTED; "" when missing
    sent_by: str | None  # SENT-BY address (a delegate answering), lower-cased


@dataclass(frozen=True)
class CalendarReply:
    """One VEVENT of a METHOD:REPLY object."""

    method: str
    uid: str
    sequence: int
    recurrence_id: str | None
    attendees: tuple[ReplyAttendee, ...]
    dtstamp: datetime | None  # aware, UTC
    comment: str


@dataclass(frozen=True)
class ParsedMail:
    """A message as far as calendar replies go: its replies, or why it has none."""

    message_id: str
    senders: frozenset[str]  # lower-cased From addresses (see _senders)
    subject: str
    auth_results: tuple[str, ...] = ()  # Authentication-Results values, topmost first
    replies: tuple[CalendarReply, ...] = ()
    skipped: str | None = None  # a SKIP_* code when there is nothing to apply
    detail: str = ""  # what exactly, e.g. "METHOD:COUNTER"


def address(value: object) -> str:
    """A calendar address (`mailto:X`, `MAILTO:X`, bare `X`) as a lower-cased e-mail address."""
    text = str(value or "").strip()
    if text[:7].lower() == "mailto:":
        text = text[7:]
    return text.strip().strip("<>").strip().lower()


def _header(msg: Message, name: str) -> str:
    # policy.default parses headers lazily; a malformed one raises on access.
    try:
        value = msg.get(name)
    except Exception:  # noqa: BLE001 (any header defect: treat as absent)
        return ""
    return "" if value is None else str(value).strip()


def _senders(msg: Message) -> frozenset[str]:
    # From only: it is what DMARC authenticates; a Sender header is the sender's own claim.
    found = set()
    for _name, mail in email.utils.getaddresses([_header(msg, "From")]):
        if "@" in mail:
            found.add(mail.strip().lower())
    return frozenset(found)


def _auth_results(msg: Message) -> tuple[str, ...]:
    try:
        values = msg.get_all("Authentication-Results") or []
    except Exception:  # noqa: BLE001 (a malformed header: as if absent)
        return ()
    return tuple(str(v) for v in values)


def _is_calendar_part(part: Message) -> bool:
    ctype = part.get_content_type()
    if ctype in CALENDAR_TYPES:
        return True
    filename = (part.get_filename() or "").lower()
    return ctype == "application/octet-stream" and filename.endswith((".ics", ".vcs"))


def _calendar_parts(msg: Message) -> Iterator[Message]:
    """Calendar parts in document order, not descending into attached messages."""
    if msg.is_multipart():
        payload = msg.get_payload()
        for sub in payload if isinstance(payload, list) else ():
            if sub.get_content_type() == "message/rfc822":
                continue
            yield from _calendar_parts(sub)
    elif _is_calendar_part(msg):
        yield msg


def _text(part: Message) -> str:
    raw = part.get_payload(decode=True) or b""
    charset = part.get_content_charset() or "utf-8"
    try:
        return raw.decode(charset)
    except (LookupError, UnicodeDecodeError):
        # A wrong charset label: iCalendar is UTF-8 by RFC 5545, Windows-1252 in practice.
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            return raw.decode("cp1252", errors="replace")


def _utc(value: object) -> datetime | None:
    if isinstance(value, datetime):
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=UTC)
    return None


def _decoded(component, name: str) -> object:
    try:
        return component.decoded(name) if name in component else None
    except Exception:  # noqa: BLE001 (unknown TZID, bad value: the property is unusable)
        return None


def _attendees(vevent) -> tuple[ReplyAttendee, ...]:
    raw = vevent.get("ATTENDEE")
    if raw is None:
        return ()
    out = []
    for item in raw if isinstance(raw, list) else [raw]:
        params = getattr(item, "params", {})
        mail = address(item)
        if "@" not in mail:
            continue
        sent_by = address(params.get("SENT-BY")) if params.get("SENT-BY") else None
        out.append(ReplyAttendee(email=mail, name=str(params.get("CN", "")).strip(),
                                 partstat=str(params.get("PARTSTAT", "")).strip().upper(),
                                 sent_by=sent_by or None))
    return tuple(out)


def _sequence(vevent) -> int:
    try:
        return int(str(vevent.get("SEQUENCE", 0)).strip() or 0)
    except ValueError:
        return 0


def _recurrence_id(vevent) -> str | None:
    raw = vevent.get("RECURRENCE-ID")
    if raw is None:
        return None
    try:
        return raw.to_ical().decode()
    except Exception:  # noqa: BLE001
        return str(raw)


Skip = tuple[str, str]  # (SKIP_* code, detail)


def parse_calendar(text: str, *, part_method: str = "") -> tuple[list[CalendarReply], Skip | None]:
    """The replies in one VCALENDAR text, or ([], (code, detail) why it is skipped)."""
    try:
        cal = Calendar.from_ical(text)
    except Exception as exc:  # noqa: BLE001 (the library raises several types)
        return [], (SKIP_INVALID, " ".join(str(exc).split())[:200])
    # RFC 6047 §2.4: the part's method parameter must equal METHOD; the object is what
    # calendars act on, so it wins, and the parameter is only a fallback when METHOD is missing.
    method = str(cal.get("METHOD", "") or part_method).strip().upper()
    if not method:
        return [], (SKIP_NO_METHOD, "")
    if method != REPLY:
        return [], (SKIP_NOT_REPLY, f"METHOD:{method[:40]}")
    replies = []
    for vevent in cal.walk("VEVENT"):
        uid = str(vevent.get("UID", "")).strip()
        comment = vevent.get("COMMENT", "")
        if isinstance(comment, list):
            comment = " ".join(str(c) for c in comment)
        replies.append(CalendarReply(
            method=method, uid=uid, sequence=_sequence(vevent),
            recurrence_id=_recurrence_id(vevent), attendees=_attendees(vevent),
            dtstamp=_utc(_decoded(vevent, "DTSTAMP")), comment=str(comment).strip()))
    if not replies:
        return [], (SKIP_NO_EVENT, "")
    return replies, None


def parse_message(raw: bytes) -> ParsedMail:
    """Read one RFC 822 message: its calendar replies, or the reason it has none."""
    try:
        msg = email.message_from_bytes(raw, policy=email.policy.default)
    except Exception:  # noqa: BLE001 (the parser is lenient; this is a last resort)
        return ParsedMail(message_id="", senders=frozenset(), subject="",
                          skipped=SKIP_UNREADABLE)
    base = dict(message_id=_header(msg, "Message-ID"), senders=_senders(msg),
                subject=_header(msg, "Subject"), auth_results=_auth_results(msg))
    try:
        parts = list(_calendar_parts(msg))
    except Exception:  # noqa: BLE001 (a broken MIME structure)
        return ParsedMail(**base, skipped=SKIP_UNREADABLE)
    if not parts:
        return ParsedMail(**base, skipped=SKIP_NOT_CALENDAR)
    replies: dict[tuple, CalendarReply] = {}
    first_reason: Skip | None = None
    for part in parts:
        try:
            text = _text(part)
        except Exception:  # noqa: BLE001 (a broken transfer encoding)
            first_reason = first_reason or (SKIP_UNREADABLE, "calendar part")
            continue
        found, reason = parse_calendar(text, part_method=part.get_param("method") or "")
        first_reason = first_reason or reason
        for reply in found:
            # Google and Outlook put the same object inline and as an attachment: once only.
            key = (reply.uid, reply.recurrence_id, tuple(a.email for a in reply.attendees))
            replies.setdefault(key, reply)
    if replies:
        return ParsedMail(**base, replies=tuple(replies.values()))
    code, detail = first_reason or (SKIP_NOT_CALENDAR, "")
    return ParsedMail(**base, skipped=code, detail=detail)


def answering_attendee(reply: CalendarReply, senders: frozenset[str],
                       delegates: Mapping[str, frozenset[str]] | None = None
                       ) -> ReplyAttendee | None:
    """The ATTENDEE whose answer this is: the one the mail comes from, or whose recorded
    delegate (`delegates`: attendee address -> delegate addresses) sent it as SENT-BY.

    RFC 5546 §3.2.3: a REPLY names exactly one ATTENDEE, the one answering; RFC 6047 §3.1
    asks receivers to check that the mail's sender is that attendee, so a reply that lists
    other people (some clients echo the whole list) only ever changes the sender's answer.
    SENT-BY is the sender's own claim, so it counts only for a delegate the programme
    recorded for that member.
    """
    delegates = delegates or {}
    for attendee in reply.attendees:
        if attendee.email in senders:
            return attendee
        if (attendee.sent_by and attendee.sent_by in senders
                and attendee.sent_by in delegates.get(attendee.email, frozenset())):
            return attendee
    return None


def claimed_delegate(reply: CalendarReply, senders: frozenset[str]) -> ReplyAttendee | None:
    """The ATTENDEE whose SENT-BY names the sender (whether or not that is a recorded one)."""
    for attendee in reply.attendees:
        if attendee.sent_by and attendee.sent_by in senders:
            return attendee
    return None


# Why a reply is read but not applied: code -> explanation (the use case adds specifics).
IGNORE_UNKNOWN_UID = "unknown_uid"
IGNORE_OCCURRENCE = "occurrence"
IGNORE_NO_ATTENDEE = "no_attendee"
IGNORE_SENDER = "sender_mismatch"
IGNORE_DELEGATE = "unrecorded_delegate"
IGNORE_NOT_INVITED = "not_invited"
IGNORE_OUTDATED = "outdated"
IGNORE_PARTSTAT = "unsupported_partstat"
IGNORE_STALE = "stale"
IGNORE_UNCHANGED = "unchanged"

ANSWERS = {"ACCEPTED": "accepted", "TENTATIVE": "tentative", "DECLINED": "declined"}
# Invitation statuses that already are the given answer. Waitlisted is not listed for
# "accepted": with a seat on offer, accepting again takes it, which only rsvp.respond knows.
SAME_ANSWER = {"accepted": {"accepted"}, "tentative": {"tentative"}, "declined": {"declined"}}


@dataclass(frozen=True)
class Decision:
    """What to do with one reply: apply `status`, or ignore it for `reason`."""

    status: str | None = None  # accepted / tentative / declined
    reason: str | None = None
    detail: str = ""


def decide(reply: CalendarReply, attendee: ReplyAttendee | None, *, event_sequence: int,
           invitation_status: str | None, responded_at: datetime | None,
           claimed: ReplyAttendee | None = None) -> Decision:
    """Whether a reply to a known event applies (RFC 5546 §2.1.5, §3.2.3), from plain values.

    `attendee` is `answering_attendee(...)`; `invitation_status` is None when that address
    has no invitation to the event; `claimed` is `claimed_delegate(...)`.
    """
    if reply.recurrence_id is not None:
        return Decision(reason=IGNORE_OCCURRENCE, detail=f"RECURRENCE-ID {reply.recurrence_id}; "
                        "the event does not repeat")
    if not reply.attendees:
        return Decision(reason=IGNORE_NO_ATTENDEE, detail="REPLY without ATTENDEE")
    if attendee is None and claimed is not None:
        return Decision(reason=IGNORE_DELEGATE, detail=f"SENT-BY {claimed.sent_by} is not a "
                        f"recorded delegate of {claimed.email}")
    if attendee is None:
        named = ", ".join(a.email for a in reply.attendees)
        return Decision(reason=IGNORE_SENDER, detail=f"ATTENDEE {named} did not send it")
    if invitation_status is None:
        return Decision(reason=IGNORE_NOT_INVITED, detail=f"{attendee.email} is not invited")
    if reply.sequence < event_sequence:
        # An answer to an older version: the time or place changed since, ask again.
        return Decision(reason=IGNORE_OUTDATED, detail=f"SEQUENCE {reply.sequence} < "
                        f"{event_sequence}")
    status = ANSWERS.get(attendee.partstat)
    if status is None:
        return Decision(reason=IGNORE_PARTSTAT,
                        detail=f"PARTSTAT {attendee.partstat or '(missing)'}")
    if reply.dtstamp is not None and responded_at is not None and reply.dtstamp < responded_at:
        return Decision(reason=IGNORE_STALE, detail=f"DTSTAMP {reply.dtstamp:%Y-%m-%dT%H:%M:%SZ} "
                        "is older than the last answer")
    if invitation_status in SAME_ANSWER[status]:
        return Decision(reason=IGNORE_UNCHANGED, detail=f"already {invitation_status}")
    return Decision(status=status)
