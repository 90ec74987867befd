"""Check-in (issue 6): signed scan links and QR codes, scan page, door list, walk-ins,
no-shows, the segment criterion and `POST /api/v1/checkins`."""
from __future__ import annotations

import email
import struct
import zlib
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import pytest
import segno
from sqlalchemy import select

from engagement import signing
from engagement.accounts.services import create_token
from engagement.audit import AuditEntry
from engagement.community.models import Member
from engagement.community.segments.services import criterion_filters
from engagement.events import notifications
from engagement.events.checkin import qr, tickets
from engagement.events.checkin import services as checkin
from engagement.events.models import Invitation
from engagement.events.rsvp import services as rsvp
from engagement.extensions import db
from engagement.mail.models import OutboxMessage
from tests.checkin_helpers import SETUP, accepted, future_event, scan_path
from tests.conftest import csrf_token
from tests.factories import make_member, make_user

# Five minutes into future_event() (18:00 Berlin): inside the check-in window.
DOORS_OPEN = datetime(2030, 11, 5, 17, 5, tzinfo=UTC)


@pytest.fixture(autouse=True)
def at_the_door(monkeypatch):
    """The check-in pages and the API see the evening of the event (check-in is open)."""
    from engagement.api.events import checkins as api_checkins
    from engagement.events.checkin import views as checkin_views

    for module in (checkin_views, api_checkins):
        monkeypatch.setattr(module, "utcnow", lambda: DOORS_OPEN)


# --- tokens and QR codes ------------------------------------------------------------------

def test_token_round_trip_tampered_foreign_and_expired(app):
    with app.app_context():
        event = future_event()
        (inv,) = accepted(event)
        token = tickets.make_token(inv.id, inv.nonce)
        assert tickets.read_token(token) == (inv.id, inv.nonce)
        assert checkin.load_by_token(db.session, token, now=SETUP).id == inv.id
        tampered = token[:-2] + ("AA" if token[-2:] != "AA" else "BB")
        with pytest.raises(signing.LinkInvalid):
            tickets.read_token(tampered)
        # An invitation link (other salt) is not a check-in link.
        with pytest.raises(signing.LinkInvalid):
            tickets.read_token(notifications.make_token(inv.id, inv.nonce))
        # A new nonce revokes old tickets.
        old = token
        inv.nonce = "f" * 32
        with pytest.raises(signing.LinkInvalid):
            checkin.load_by_token(db.session, old, now=SETUP)
        new = tickets.make_token(inv.id, inv.nonce)
        late = event.ends_at + timedelta(days=1, seconds=1)
        with pytest.raises(checkin.CheckinError) as exc:
            checkin.load_by_token(db.session, new, now=late)
        assert exc.value.code == "expired"
        assert checkin.load_by_token(db.session, new, now=late - timedelta(seconds=2))


def _png_modules(data: bytes, scale: int, border: int) -> tuple[tuple[int, ...], ...]:
    """Decode a 1-bit greyscale PNG (what segno writes) and sample one pixel per module."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, header = 8, b"", None
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos:pos + 4])
        kind, body = data[pos + 4:pos + 8], data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    width, height, depth, colour, _c, _f, interlace = header
    assert (depth, colour, interlace) == (1, 0, 0)
    raw = zlib.decompress(idat)
    stride = (width + 7) // 8
    rows, prev = [], bytes(stride)
    for y in range(height):
        start = y * (stride + 1)
        ftype, line = raw[start], bytearray(raw[start + 1:start + 1 + stride])
        for i in range(stride):
            left = line[i - 1] if i else 0
            up, ul = prev[i], (prev[i - 1] if i else 0)
            if ftype == 1:
                line[i] = (line[i] + left) & 0xFF
            elif ftype == 2:
                line[i] = (line[i] + up) & 0xFF
            elif ftype == 3:
                line[i] = (line[i] + (left + up) // 2) & 0xFF
            elif ftype == 4:
                p = left + up - ul
                pa, pb, pc = abs(p - left), abs(p - up), abs(p - ul)
                pred = left if pa <= pb and pa <= pc else (up if pb <= pc else ul)
                line[i] = (line[i] + pred) & 0xFF
        rows.append(bytes(line))
        prev = bytes(line)

    def dark(x, y):
        return 0 if rows[y][x // 8] >> (7 - x % 8) & 1 else 1  # black pixel = dark module

    size = width // scale - 2 * border
    return tuple(tuple(dark((border + c) * scale + scale // 2, (border + r) * scale + scale // 2)
                       for c in range(size)) for r in range(size))


def test_accepted_mail_carries_a_qr_code_of_the_signed_scan_url(app):
    """No QR decoder is installable without system libraries, so the PNG's module grid is
    decoded here and compared with segno's matrix for the expected signed URL."""
    with app.app_context():
        event = future_event()
        (inv,) = accepted(event)
        url = tickets.checkin_url(inv.id, inv.nonce)
        rows = db.session.scalars(select(OutboxMessage).where(
            OutboxMessage.kind == rsvp.MAIL_KIND).order_by(OutboxMessage.id)).all()
        msg = email.message_from_bytes(bytes(rows[-1].raw), policy=email.policy.default)
        parts = {p.get_filename(): p for p in msg.walk() if p.get_filename()}
        assert {"ticket-qr.png", "ticket-qr.svg", "invite.ics"} <= set(parts)
        assert parts["ticket-qr.png"].get_content_type() == "image/png"
        png = parts["ticket-qr.png"].get_payload(decode=True)
        expected = segno.make(url, error="m", micro=False)
        assert _png_modules(png, scale=6, border=4) == tuple(
            tuple(int(bool(v)) for v in row) for row in expected.matrix)
        # ...and a different URL gives a different grid (the comparison can fail).
        other = segno.make(url + "x", error="m", micro=False)
        assert _png_modules(png, 6, 4) != tuple(tuple(int(bool(v)) for v in r)
                                                for r in other.matrix)
        svg = parts["ticket-qr.svg"].get_payload(decode=True)
        assert b"<svg" in svg
        # The scan URL inside is a valid signed check-in token for this invitation.
        token = urlsplit(url).path.rsplit("/", 1)[1]
        assert tickets.read_token(token) == (inv.id, inv.nonce)


def test_ticket_page_shows_the_qr_only_for_accepted(app, client):
    with app.app_context():
        event = future_event()
        (yes,) = accepted(event)
        (maybe,) = accepted(event, status="tentative")
        yes_token = notifications.make_token(yes.id, yes.nonce)
        maybe_token = notifications.make_token(maybe.id, maybe.nonce)
        url = tickets.checkin_url(yes.id, yes.nonce)
        db.session.commit()
    html = client.get(f"/i/{yes_token}").get_data(as_text=True)
    assert f"/i/{yes_token}/ticket" in html
    r = client.get(f"/i/{yes_token}/ticket")
    page = r.get_data(as_text=True)
    assert r.status_code == 200 and "<svg" in page
    assert f'data-checkin-url="{url}"' in page
    with app.app_context():
        assert qr.qr_svg(url) in page
    page = client.get(f"/i/{maybe_token}/ticket").get_data(as_text=True)
    assert "<svg" not in page and "Only accepted invitations have a ticket" in page
    assert client.get("/i/garbage/ticket").status_code == 404


# --- scan page ----------------------------------------------------------------------------

def test_scan_check_in_is_idempotent_and_undoable(app, client, login_as):
    with app.app_context():
        event = future_event()
        (inv,) = accepted(event)
        path, inv_id = scan_path(inv), inv.id
        db.session.commit()
    r = client.get(path)
    assert r.status_code == 302 and "/login" in r.headers["Location"]
    assert "next=" in r.headers["Location"]
    login_as("manager")
    page = client.get(path).get_data(as_text=True)
    assert "Guest 0 Example" in page and ">Check in<" in page
    token = csrf_token(client, path)
    r = client.post(path, data={"csrf_token": token}, follow_redirects=True)
    page = r.get_data(as_text=True)
    assert "is checked in" in page and "Checked in at" in page and "Undo check-in" in page
    with app.app_context():
        first = db.session.get(Invitation, inv_id).checked_in_at
        assert first is not None
    r = client.post(path, data={"csrf_token": token}, follow_redirects=True)
    assert "Already checked in at 18:05." in r.get_data(as_text=True)
    with app.app_context():
        assert db.session.get(Invitation, inv_id).checked_in_at == first
    client.post(path + "/undo", data={"csrf_token": token})
    with app.app_context():
        assert db.session.get(Invitation, inv_id).checked_in_at is None
        actions = db.session.scalars(select(AuditEntry.action).where(
            AuditEntry.object_type == "invitation", AuditEntry.object_id == str(inv_id))).all()
        assert actions.count("invitation.checked_in") == 1
        assert "invitation.check_in_undone" in actions
    # Without a CSRF token nothing happens.
    client.post(path, data={})
    with app.app_context():
        assert db.session.get(Invitation, inv_id).checked_in_at is None


def test_scan_refuses_tampered_expired_and_not_accepted(app, client, login_as):
    with app.app_context():
        event = future_event()
        (inv,) = accepted(event)
        (maybe,) = accepted(event, status="tentative")
        path, maybe_path, inv_id = scan_path(inv), scan_path(maybe), inv.id
        db.session.commit()
    login_as("manager")
    assert client.get(path[:-3] + "xyz").status_code == 404
    page = client.get(maybe_path).get_data(as_text=True)
    assert ">Check in<" not in page and "Only accepted invitations" in page
    with app.app_context():
        event = db.session.get(Invitation, inv_id).event
        event.starts_at = datetime(2020, 1, 1, 18, tzinfo=UTC)
        event.ends_at = datetime(2020, 1, 1, 22, tzinfo=UTC)
        db.session.commit()
    r = client.get(path)
    assert r.status_code == 410 and "expired" in r.get_data(as_text=True)


def test_other_roles_cannot_check_in(app, client, login_as):
    with app.app_context():
        (inv,) = accepted(future_event())
        path = scan_path(inv)
        db.session.commit()
    login_as("hr")
    assert client.get(path).status_code == 403


# --- door list, walk-ins, no-shows --------------------------------------------------------

def test_door_list_search_check_in_and_walk_in(app, client, login_as):
    with app.app_context():
        event = future_event(capacity=2)
        a, b = accepted(event, 2)
        stranger = make_member(email="walkin@example.org", display_name="Wanda Walkin")
        event_id, a_id, b_id, stranger_id = event.id, a.id, b.id, stranger.id
        db.session.commit()
    login_as("manager")
    door = f"/events/{event_id}/door"
    page = client.get(door).get_data(as_text=True)
    assert "Guest 0 Example" in page and "Guest 1 Example" in page
    page = client.get(door + "?q=guest1-").get_data(as_text=True)
    assert "Guest 1 Example" in page and "Guest 0 Example" not in page
    token = csrf_token(client, door)
    client.post(f"{door}/{a_id}/check-in", data={"csrf_token": token})
    page = client.get(door).get_data(as_text=True)
    assert "Checked in: <strong>1</strong>" in page and "Remaining: <strong>1</strong>" in page
    # The walk-in search offers only members who are not invited.
    page = client.get(door + "?wq=walkin").get_data(as_text=True)
    assert "Wanda Walkin" in page
    assert "Guest 0" not in client.get(door + "?wq=guest").get_data(as_text=True).split(
        "Walk-in</h2>")[1]
    r = client.post(f"{door}/walk-in", data={"csrf_token": token, "member_id": stranger_id},
                    follow_redirects=True)
    assert "Walk-in recorded" in r.get_data(as_text=True)
    with app.app_context():
        walk = db.session.scalar(select(Invitation).where(
            Invitation.event_id == event_id, Invitation.member_id == stranger_id))
        # Over capacity (2 accepted + 1 walk-in): walk-ins are let in anyway.
        assert walk.walk_in and str(walk.status) == "accepted" and walk.checked_in_at
        assert checkin.door_counts(db.session, event_id) == checkin.DoorCounts(3, 2, 1)
    r = client.post(f"{door}/walk-in", data={"csrf_token": token, "member_id": stranger_id},
                    follow_redirects=True)
    assert "already invited" in r.get_data(as_text=True)
    r = client.post(f"{door}/walk-in", data={"csrf_token": token, "member_id": "999999"},
                    follow_redirects=True)
    assert "No such member." in r.get_data(as_text=True)
    client.post(f"{door}/{a_id}/undo", data={"csrf_token": token})
    with app.app_context():
        assert db.session.get(Invitation, a_id).checked_in_at is None
        assert db.session.get(Invitation, b_id).checked_in_at is None
        assert db.session.scalar(select(AuditEntry.id).where(
            AuditEntry.action == "invitation.walk_in"))
    # An invitation of another event is not reachable through this door list.
    assert client.post(f"/events/{event_id + 1}/door/{a_id}/check-in",
                       data={"csrf_token": token}).status_code == 404


def test_no_shows_after_the_event_and_segment_criterion(app, client, login_as):
    with app.app_context():
        event = future_event(capacity=5)
        came, stayed_away = accepted(event, 2)
        checkin.check_in(db.session, came, now=DOORS_OPEN, source="door")
        event_id, came_id = event.id, came.id
        came_member, away_member = came.member_id, stayed_away.member_id
        db.session.commit()
    login_as("manager")
    page = client.get(f"/events/{event_id}/no-shows").get_data(as_text=True)
    assert "not over yet" in page
    assert "No-shows:" not in client.get(f"/events/{event_id}").get_data(as_text=True)
    with app.app_context():
        event = db.session.get(Invitation, came_id).event
        now = datetime.now(UTC)
        event.starts_at, event.ends_at = now - timedelta(days=3, hours=4), now - timedelta(days=3)
        db.session.commit()
    detail = client.get(f"/events/{event_id}").get_data(as_text=True)
    assert "Checked in: 1 of 2 accepted" in detail and "No-shows: 1" in detail
    page = client.get(f"/events/{event_id}/no-shows").get_data(as_text=True)
    assert "1 accepted but did not check in." in page
    assert "Guest 1 Example" in page and "Guest 0 Example" not in page
    with app.app_context():
        crit = criterion_filters()["no_show_within_days"]
        ids = set(db.session.scalars(select(Member.id).where(crit.build(7))))
        assert away_member in ids and came_member not in ids
        assert away_member not in set(db.session.scalars(select(Member.id).where(
            crit.build(2))))


# --- API ----------------------------------------------------------------------------------

@pytest.fixture
def api(app_any):
    app = app_any
    with app.app_context():
        manager = make_user(role="manager")
        hr = make_user(role="hr")
        _t, token = create_token(db.session, manager, "t")
        _t, hr_token = create_token(db.session, hr, "t")
        db.session.commit()
    client = app.test_client()

    def call(body, token_=None):
        return client.post("/api/v1/checkins", json=body,
                           headers={"Authorization": f"Bearer {token_ or token}"})

    call.hr_token = hr_token
    return call


def test_api_check_in_by_token_or_id(app_any, api):
    """On SQLite and PostgreSQL (the door counts use a CASE over a boolean)."""
    with app_any.app_context():
        event = future_event()
        yes, other = accepted(event, 2)
        (maybe,) = accepted(event, status="tentative")
        tok = tickets.make_token(yes.id, yes.nonce)
        ids = (yes.id, other.id, maybe.id)
        db.session.commit()
    r = api({"token": tok})
    assert r.status_code == 200, r.get_json()
    body = r.get_json()
    assert body["id"] == ids[0] and body["checked_in_at"] and body["walk_in"] is False
    again = api({"token": tok}).get_json()
    assert again["checked_in_at"] == body["checked_in_at"]  # idempotent
    r = api({"invitation_id": ids[1]})
    assert r.status_code == 200 and r.get_json()["checked_in_at"]
    assert api({"invitation_id": ids[2]}).status_code == 409
    assert api({"invitation_id": 999999}).status_code == 404
    assert api({"token": tok[:-2] + "zz"}).status_code == 404
    assert api({}).status_code == 422
    assert api({"token": tok, "invitation_id": ids[1]}).status_code == 422
    assert api({"invitation_id": "1"}).status_code == 422
    assert api({"token": tok}, token_=api.hr_token).status_code == 403
    with app_any.app_context():
        event_id = db.session.get(Invitation, ids[0]).event_id
        assert checkin.door_counts(db.session, event_id) == checkin.DoorCounts(2, 2, 0)
