"""Erasure leaves no residue: free text in the member's rows, the SQLite file and its WAL.

Issue 12 item 15: the e-mail stayed verbatim in `agreement_acceptances.source`, the name in
`event_roles.note` and `reward_grants.reason`, and the SQLite file and WAL still held
dozens of copies after the erasure (no secure_delete, no checkpoint).
"""
from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import select, text

from engagement import audit
from engagement.accounts.models import ApiToken
from engagement.community.models import TierHistory
from engagement.events.models import InvitationConsent, InvitationStatus
from engagement.extensions import db
from engagement.records.gdpr import services as gdpr
from engagement.records.models import Agreement, AgreementAcceptance, EventRole, RecordSignoff
from tests.conftest import csrf_token
from tests.factories import (
    make_event,
    make_grant,
    make_invitation,
    make_member,
    make_reward_item,
    make_user,
)

NAME = "Ottilie Wunderlich-Brandstetter"
EMAIL = "ottilie.wb@residue-example.test"
NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


def _seed() -> dict:
    """A member whose name and address sit in free text of many of their rows."""
    staff = make_user(role="manager", email="mgr@example.org", name="Mia Manager")
    member = make_member(display_name=NAME, email=EMAIL, external_id="res-1")
    login = make_user(role="member", email=EMAIL, name=NAME, member_id=member.id)
    other = make_member(display_name="Other Person", email="other@example.org")
    event = make_event("Summit")
    inv = make_invitation(event, member, InvitationStatus.ACCEPTED,
                          answers={"1": f"vegetarian, sit me next to {NAME}'s team"})
    db.session.add(InvitationConsent(invitation_id=inv.id, key="photo", version=1,
                                     text=f"{NAME} agrees to photos", given=True, at=NOW))
    agreement = Agreement(key="nda", version=1, title="NDA", text="Keep it secret.")
    db.session.add(agreement)
    db.session.flush()
    # The source in upper case: the match must not depend on how it was typed.
    db.session.add(AgreementAcceptance(member_id=member.id, agreement_id=agreement.id,
                                       accepted_at=NOW, source=f"phone {EMAIL.upper()}"))
    db.session.add(AgreementAcceptance(member_id=other.id, agreement_id=agreement.id,
                                       accepted_at=NOW, source="manager:mgr@example.org"))
    db.session.add(EventRole(event_id=event.id, member_id=member.id, role="speaker",
                             hours=Decimal("2.00"), note=f"{NAME.lower()} gave the keynote"))
    db.session.add(EventRole(event_id=event.id, member_id=member.id, role="helper",
                             hours=Decimal("1.00"), note=NAME))
    db.session.add(RecordSignoff(member_id=member.id, year=2026, signed_by_user_id=staff.id,
                                 snapshot={"name": NAME, "hours": "3.00"}))
    db.session.add(TierHistory(member_id=member.id, kind="override",
                               reason=f"requested by {EMAIL}", actor="manager:mgr@example.org",
                               at=NOW))
    db.session.add(ApiToken(user_id=login.id, name=f"{NAME}'s laptop", token_hash="t" * 64,
                            prefix="eng_abc"))
    item = make_reward_item("Mug", "19.90")
    grant = make_grant(member, item, year=2026, status="proposed",
                       reason=f"Top answerer {NAME.upper()}")
    audit.record(db.session, "invitation.rsvp", "invitation", inv.id,
                 after={"status": "accepted", "answers": {"1": "vegan"}},
                 actor=f"member:{EMAIL}")
    db.session.commit()
    return {"member": member.id, "other": other.id, "grant": grant.id, "event": event.id}


def _hits(needles: list[str]) -> list[str]:
    """Every (table, row) that contains one of the needles, in any case."""
    found = []
    for table in db.metadata.sorted_tables:
        for row in db.session.execute(select(table)).all():
            blob = repr(tuple(row)).lower()
            if any(n.lower() in blob for n in needles):
                found.append(f"{table.name}: {blob[:200]}")
    return found


def test_erasure_redacts_free_text_of_every_row_of_the_member(app_any):
    with app_any.app_context():
        ids = _seed()
        assert len(_hits([NAME, EMAIL])) >= 10  # the search can fail
        counts = gdpr.erase_member(db.session, ids["member"], key="k", now=NOW)
        db.session.commit()

        assert _hits([NAME, EMAIL]) == []
        pseudonym = f"Erased member #{ids['member']}"
        sources = dict(db.session.execute(
            select(AgreementAcceptance.member_id, AgreementAcceptance.source)).all())
        assert sources[ids["member"]] == f"phone {pseudonym}"
        # Another member's row and a staff identity are not the erased member's text.
        assert sources[ids["other"]] == "manager:mgr@example.org"
        notes = sorted(db.session.scalars(select(EventRole.note)))
        assert notes == [pseudonym, f"{pseudonym} gave the keynote"]
        history = db.session.scalars(select(TierHistory)).one()
        assert history.actor == "manager:mgr@example.org"
        assert history.reason == f"requested by {pseudonym}"
        snapshot = db.session.scalars(select(RecordSignoff.snapshot)).one()
        assert snapshot == {"name": pseudonym, "hours": "3.00"}
        consent = db.session.scalars(select(InvitationConsent.text)).one()
        assert consent == f"{pseudonym} agrees to photos"
        assert counts["free_text_rows_redacted"] >= 7
        assert audit.verify(db.session).ok


def _file_bytes(path: Path) -> bytes:
    data = path.read_bytes()
    wal = path.with_name(path.name + "-wal")
    return data + (wal.read_bytes() if wal.exists() else b"")


def _traces(blob: bytes) -> list[str]:
    lowered = blob.lower()
    return [n for n in (NAME, EMAIL, "Wunderlich", "ottilie.wb")
            if n.lower().encode() in lowered]


@pytest.fixture
def sqlite_file(app) -> Path:
    url = app.config["SQLALCHEMY_DATABASE_URI"]
    assert url.startswith("sqlite:///")
    return Path(url[len("sqlite:///"):])


def test_sqlite_file_and_wal_hold_no_trace_after_erasure(app, client, login_as, sqlite_file):
    with app.app_context():
        ids = _seed()
        assert db.session.execute(text("PRAGMA secure_delete")).scalar() == 1
        db.session.remove()
    before = _traces(_file_bytes(sqlite_file))
    assert NAME in before and EMAIL in before  # the search can fail
    assert sqlite_file.with_name(sqlite_file.name + "-wal").stat().st_size > 0

    login_as("hr")
    path = f"/records/members/{ids['member']}/erase"
    resp = client.post(path, data={"csrf_token": csrf_token(client, path),
                                   "confirm_name": NAME})
    assert resp.status_code == 302

    assert _traces(_file_bytes(sqlite_file)) == []
    wal = sqlite_file.with_name(sqlite_file.name + "-wal")
    assert not wal.exists() or wal.stat().st_size == 0


def test_a_rolled_back_erasure_asks_for_no_checkpoint(app):
    from engagement.db import CHECKPOINT_KEY

    with app.app_context():
        ids = _seed()
        gdpr.erase_member(db.session, ids["member"], key="k", now=NOW)
        assert db.session().info.get(CHECKPOINT_KEY) is True
        db.session.rollback()
        assert CHECKPOINT_KEY not in db.session().info
        assert db.session.get(gdpr.Member, ids["member"]).display_name == NAME

