"""Invitation links can be revoked: by erasure (all of a member's) and by a manager (one)."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select

from engagement.audit import AuditEntry
from engagement.events import notifications
from engagement.events.models import Invitation, InvitationStatus
from engagement.extensions import db
from engagement.mail.models import OutboxMessage
from engagement.records.gdpr import services as gdpr
from tests.conftest import csrf_token
from tests.factories import make_event, make_invitation, make_member


def _token(inv: Invitation) -> str:
    return notifications.make_token(inv.id, inv.nonce)


def _seed() -> tuple[int, int, int, str]:
    event = make_event(capacity=10)
    member = make_member(display_name="Lena Link", email="lena@example.net")
    inv = make_invitation(event, member)
    db.session.commit()
    return event.id, member.id, inv.id, _token(inv)


def test_erased_members_old_link_neither_opens_nor_accepts(app, client):
    with app.app_context():
        _event_id, member_id, inv_id, token = _seed()
    csrf = csrf_token(client, f"/i/{token}")
    assert client.get(f"/i/{token}").status_code == 200
    with app.app_context():
        counts = gdpr.erase_member(db.session, member_id, key="k")
        db.session.commit()
        assert counts["invitation_links_reissued"] == 1
    assert client.get(f"/i/{token}").status_code == 404
    assert client.get(f"/i/{token}/event.ics").status_code == 404
    answer = client.post(f"/i/{token}/rsvp", data={"csrf_token": csrf, "status": "accepted"})
    assert answer.status_code == 404
    with app.app_context():
        assert db.session.get(Invitation, inv_id).status == InvitationStatus.INVITED


def test_manager_reissues_one_invitees_link(app, client, login_as):
    with app.app_context():
        event_id, member_id, inv_id, old = _seed()
    login_as("manager")
    path = f"/events/{event_id}/invitations/{inv_id}/reissue"
    # Without the CSRF token (a hostile site posting the button): refused, link unchanged.
    assert client.post(path, data={"send_mail": "1"}).status_code == 400
    assert client.get(f"/i/{old}").status_code == 200
    detail = client.get(f"/events/{event_id}").get_data(as_text=True)
    assert path in detail
    csrf = csrf_token(client, f"/events/{event_id}")
    resp = client.post(path, data={"csrf_token": csrf, "send_mail": "1"})
    assert resp.status_code == 302
    with app.app_context():
        inv = db.session.get(Invitation, inv_id)
        new = _token(inv)
        entry = db.session.scalars(select(AuditEntry).where(
            AuditEntry.action == "invitation.link_reissued")).one()
        assert entry.object_id == str(inv_id) and entry.subject_member_id == member_id
        assert entry.after == {"event_id": event_id, "mailed": True}
        mails = db.session.scalars(select(OutboxMessage)).all()
        assert [m.payload["invitation_id"] for m in mails] == [inv_id]
        assert mails[0].to_addr == "lena@example.net"
    assert client.get(f"/i/{old}").status_code == 404
    assert client.get(f"/i/{new}").status_code == 200
    # Without the mail option: a new link, no further mail.
    assert client.post(path, data={"csrf_token": csrf}).status_code == 302
    assert client.get(f"/i/{new}").status_code == 404
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(OutboxMessage)) == 1
    # Another event's invitation id under this event: not found.
    assert client.post(f"/events/{event_id + 1}/invitations/{inv_id}/reissue",
                       data={"csrf_token": csrf}).status_code == 404


@pytest.mark.parametrize("role", ["hr", "member", None])
def test_only_managers_reissue_links(app, client, login_as, role):
    with app.app_context():
        event_id, _member_id, inv_id, old = _seed()
    csrf = csrf_token(client, "/login")  # a valid token: the role check must refuse
    if role:
        login_as(role)
    resp = client.post(f"/events/{event_id}/invitations/{inv_id}/reissue",
                       data={"csrf_token": csrf, "send_mail": "1"})
    assert resp.status_code in ((403,) if role else (302, 401))
    assert client.get(f"/i/{old}").status_code == 200
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(OutboxMessage)) == 0
