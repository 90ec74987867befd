"""Members accept versioned agreements on their own page, withdraw consents at any time
(after the RSVP deadline too, Art. 7(3) GDPR), and an event may require an agreement."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from engagement.audit import AuditEntry
from engagement.events import notifications
from engagement.events.models import EventConsent, Invitation, InvitationConsent
from engagement.events.rsvp import services as rsvp
from engagement.extensions import db
from engagement.records import agreements
from engagement.records.models import AgreementAcceptance
from engagement.records.volunteer.services import create_agreement_version
from tests.conftest import csrf_token
from tests.factories import make_event, make_invitation, make_member, make_user

# Answers given two days ago; the pages run on the real clock.
NOW = datetime.now(UTC).replace(microsecond=0) - timedelta(days=2)


def _member_client(app, client, member):
    user = make_user(role="member", email=f"m{member.id}@example.net", member_id=member.id)
    db.session.commit()
    with client.session_transaction() as sess:
        sess["_user_id"] = str(user.id)
        sess["_fresh"] = True
    return user


def _token(inv) -> str:
    return notifications.make_token(inv.id, inv.nonce)


def test_consent_withdrawn_after_the_deadline_is_recorded_and_shown(app, client, login_as):
    with app.app_context():
        # The deadline has passed: answering is closed, withdrawing must still work.
        event = make_event("Summit", days=3, rsvp_deadline=datetime.now(UTC) - timedelta(days=1))
        db.session.add(EventConsent(event_id=event.id, key="photos", version=2,
                                    text="Photos of me may be published.", required=False))
        member = make_member(display_name="Wanda Withdraw")
        inv = make_invitation(event, member, status="accepted")
        db.session.add(InvitationConsent(invitation_id=inv.id, key="photos", version=2,
                                         text="Photos of me may be published.", given=True,
                                         at=NOW))
        db.session.commit()
        # (Declining stays possible until the start; changing to "maybe" is closed.)
        with pytest.raises(rsvp.RsvpClosed):
            rsvp.respond(db.session, inv, "tentative", now=datetime.now(UTC))
        db.session.rollback()
        event_id, inv_id, member_id, token = event.id, inv.id, member.id, _token(inv)
        _member_client(app, client, member)
    page = client.get("/me/agreements").get_data(as_text=True)
    assert "Photos of me may be published." in page and "Withdraw this consent" in page
    url = f"/me/consents/{inv_id}/photos/withdraw"
    assert client.post(url).status_code == 400  # no CSRF token
    csrf = csrf_token(client, "/me/agreements")
    assert client.post(url, data={"csrf_token": csrf}).status_code == 302
    with app.app_context():
        rows = db.session.scalars(select(InvitationConsent).order_by(InvitationConsent.id)).all()
        assert [(r.given, r.withdrawn, r.version) for r in rows] == [(True, False, 2),
                                                                   (False, True, 2)]
        assert rows[1].at > NOW
        entry = db.session.scalars(select(AuditEntry).where(
            AuditEntry.action == "invitation.consent_withdrawn")).one()
        assert entry.subject_member_id == member_id and entry.after["version"] == 2
    # Twice is refused, nothing new is written.
    client.post(url, data={"csrf_token": csrf})
    with app.app_context():
        assert db.session.scalar(select(InvitationConsent).order_by(
            InvitationConsent.id.desc()).limit(1)).withdrawn
        assert len(db.session.scalars(select(InvitationConsent)).all()) == 2
    # The closed invitation page no longer offers a withdrawal; the manager and HR see it.
    assert "Withdraw</button>" not in client.get(f"/i/{token}").get_data(as_text=True)
    login_as("manager")
    detail = client.get(f"/events/{event_id}").get_data(as_text=True)
    assert "Withdrawn consents" in detail and "Wanda Withdraw" in detail
    csv = client.get(f"/events/{event_id}/invitations.csv").get_data(as_text=True)
    assert "withdrawn (v2" in csv
    login_as("hr")
    record = client.get(f"/records/{member_id}/{datetime.now(UTC).year}").get_data(
        as_text=True)
    assert "<strong>withdrawn</strong>" in record


def test_withdraw_from_the_invitation_link_after_the_deadline(app, client):
    with app.app_context():
        event = make_event("Summit", days=3, rsvp_deadline=datetime.now(UTC) - timedelta(days=1))
        member = make_member()
        inv = make_invitation(event, member, status="accepted")
        db.session.add(InvitationConsent(invitation_id=inv.id, key="photos", version=1,
                                         text="Photos are fine.", given=True, at=NOW))
        db.session.commit()
        token, inv_id = _token(inv), inv.id
    page = client.get(f"/i/{token}").get_data(as_text=True)
    # After the deadline the page still shows the consent and offers its withdrawal.
    assert "Photos are fine." in page and "/consents/photos/withdraw" in page
    csrf = csrf_token(client, f"/i/{token}")
    assert client.post(f"/i/{token}/consents/photos/withdraw").status_code == 400
    resp = client.post(f"/i/{token}/consents/photos/withdraw", data={"csrf_token": csrf})
    assert resp.status_code == 302
    with app.app_context():
        latest = db.session.scalar(select(InvitationConsent).where(
            InvitationConsent.invitation_id == inv_id).order_by(InvitationConsent.id.desc())
            .limit(1))
        assert latest.withdrawn and not latest.given


def test_member_cannot_withdraw_someone_elses_consent(app, client):
    with app.app_context():
        event = make_event()
        other = make_invitation(event, make_member())
        db.session.add(InvitationConsent(invitation_id=other.id, key="photos", version=1,
                                         text="ok", given=True, at=NOW))
        _member_client(app, client, make_member())
        other_id = other.id
    csrf = csrf_token(client, "/me/agreements")
    resp = client.post(f"/me/consents/{other_id}/photos/withdraw", data={"csrf_token": csrf})
    assert resp.status_code == 404


def test_member_accepts_versions_and_withdraws_consents_on_own_page(app, client, login_as):
    with app.app_context():
        nda = create_agreement_version(db.session, key="nda", title="Summit NDA",
                                       text="Keep the roadmap secret.", now=NOW)
        dp = create_agreement_version(db.session, key="data", title="Data processing",
                                      text="You may process my data.", now=NOW,
                                      withdrawable=True)
        member = make_member()
        _member_client(app, client, member)
        nda_id, dp_id, member_id = nda.id, dp.id, member.id
    page = client.get("/me/agreements")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "Summit NDA" in html and "Keep the roadmap secret." in html
    assert client.post(f"/me/agreements/{nda_id}/accept").status_code == 400
    csrf = csrf_token(client, "/me/agreements")
    assert client.post(f"/me/agreements/{nda_id}/accept",
                       data={"csrf_token": csrf}).status_code == 302
    assert client.post(f"/me/agreements/{dp_id}/accept",
                       data={"csrf_token": csrf}).status_code == 302
    # An NDA binds: no withdrawal; the data-processing consent can be withdrawn.
    client.post(f"/me/agreements/{nda_id}/withdraw", data={"csrf_token": csrf})
    client.post(f"/me/agreements/{dp_id}/withdraw", data={"csrf_token": csrf})
    with app.app_context():
        rows = {a.agreement_id: a for a in db.session.scalars(select(AgreementAcceptance))}
        assert rows[nda_id].withdrawn_at is None and rows[nda_id].source == "member page"
        assert rows[dp_id].withdrawn_at is not None
        actions = [e.action for e in db.session.scalars(select(AuditEntry).where(
            AuditEntry.subject_member_id == member_id).order_by(AuditEntry.id))]
        assert actions == ["records.agreement_accepted", "records.agreement_accepted",
                           "records.agreement_withdrawn"]
        # A new NDA text asks again; the old version cannot be accepted any more.
        v2 = create_agreement_version(db.session, key="nda", title="Summit NDA",
                                      text="Keep roadmap and prices secret.", now=NOW)
        db.session.commit()
        states = {m.current.key: m.state for m in agreements.member_overview(db.session,
                                                                             member_id)}
        assert states == {"nda": "outdated", "data": "withdrawn"}
        v2_id = v2.id
    assert "new version to accept" in client.get("/me/agreements").get_data(as_text=True)
    client.post(f"/me/agreements/{nda_id}/accept", data={"csrf_token": csrf})
    with app.app_context():
        assert db.session.scalars(select(AgreementAcceptance).where(
            AgreementAcceptance.agreement_id == nda_id)).all().__len__() == 1
    client.post(f"/me/agreements/{v2_id}/accept", data={"csrf_token": csrf})
    with app.app_context():
        assert db.session.scalars(select(AgreementAcceptance).where(
            AgreementAcceptance.agreement_id == v2_id)).one().source == "member page"
    login_as("manager")
    assert client.get("/me/agreements").status_code == 403


def test_event_requiring_an_agreement_asks_for_it_before_a_yes(app, client, login_as):
    with app.app_context():
        nda = create_agreement_version(db.session, key="nda", title="Summit NDA",
                                       text="Keep the roadmap secret.", now=NOW)
        event = make_event("Summit", capacity=5)
        member = make_member()
        inv = make_invitation(event, member)
        db.session.commit()
        event_id, token, inv_id, nda_id = event.id, _token(inv), inv.id, nda.id
    # The manager chooses the agreement on the event form.
    login_as("manager")
    form = client.get(f"/events/{event_id}/edit").get_data(as_text=True)
    assert '<option value="nda">Summit NDA (v1)</option>' in form
    with app.app_context():
        from engagement.events.models import Event

        db.session.get(Event, event_id).required_agreement_key = "nda"
        db.session.commit()
    assert "requires accepting: Summit NDA" in client.get(
        f"/events/{event_id}").get_data(as_text=True)
    with client.session_transaction() as sess:
        sess.clear()
    page = client.get(f"/i/{token}").get_data(as_text=True)
    assert 'name="agreement"' in page and "Keep the roadmap secret." in page
    csrf = csrf_token(client, f"/i/{token}")
    bad = client.post(f"/i/{token}/rsvp", data={"csrf_token": csrf, "status": "accepted"})
    assert bad.status_code == 422
    assert "Please accept the agreement" in bad.get_data(as_text=True)
    # A maybe holds no seat and needs no agreement.
    assert client.post(f"/i/{token}/rsvp", data={"csrf_token": csrf, "status": "tentative"}
                       ).status_code == 302
    with app.app_context():
        assert db.session.get(Invitation, inv_id).status == "tentative"
        assert db.session.scalars(select(AgreementAcceptance)).all() == []
    ok = client.post(f"/i/{token}/rsvp", data={"csrf_token": csrf, "status": "accepted",
                                               "agreement": "1"})
    assert ok.status_code == 302
    with app.app_context():
        assert db.session.get(Invitation, inv_id).status == "accepted"
        acc = db.session.scalars(select(AgreementAcceptance)).one()
        assert (acc.agreement_id, acc.source) == (nda_id, "rsvp:web")
        entry = db.session.scalars(select(AuditEntry).where(
            AuditEntry.action == "invitation.rsvp").order_by(AuditEntry.id.desc())).first()
        assert entry.after["agreement"] == {"key": "nda", "version": 1}
    assert "You accepted “Summit NDA” (version 1)" in client.get(f"/i/{token}").get_data(
        as_text=True)


def test_calendar_accept_needs_the_agreement_and_records_its_version(app_any):
    with app_any.app_context():
        nda = create_agreement_version(db.session, key="nda", title="Summit NDA",
                                       text="Secret.", now=NOW)
        event = make_event("Summit", capacity=5, required_agreement_key="nda")
        member = make_member()
        inv = make_invitation(event, member)
        db.session.commit()
        # A calendar "Accept" cannot show the text: without an acceptance it holds no seat.
        with pytest.raises(rsvp.RsvpInvalid) as exc:
            rsvp.respond(db.session, inv, "accepted", now=datetime.now(UTC),
                         source="calendar")
        assert exc.value.errors == {"agreement:nda": "required"}
        db.session.rollback()
        assert db.session.get(Invitation, inv.id).status == "invited"
        agreements.accept(db.session, member.id, nda.id, source="member page",
                          now=datetime.now(UTC))
        result = rsvp.respond(db.session, inv, "accepted", now=datetime.now(UTC),
                              source="calendar")
        db.session.commit()
        assert result.status == "accepted"
        entry = db.session.scalars(select(AuditEntry).where(
            AuditEntry.action == "invitation.rsvp")).one()
        assert entry.after["agreement"] == {"key": "nda", "version": 1}
        assert entry.after["source"] == "calendar"
