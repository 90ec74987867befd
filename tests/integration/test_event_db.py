"""Events schema on both databases: one invitation per event and member."""
from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy.exc import IntegrityError

from engagement.extensions import db
from tests.factories import make_event, make_member


def test_one_invitation_per_event_and_member(app_any):
    from engagement.events.models import EventStatus, Invitation

    with app_any.app_context():
        member = make_member()
        event = make_event("T", starts_at=datetime(2030, 1, 1, 17, tzinfo=UTC), hours=2,
                           status=EventStatus.DRAFT)
        # Built by hand: the status and created_at defaults are what this test checks.
        db.session.add(Invitation(event_id=event.id, member_id=member.id, nonce="a"))
        db.session.commit()
        stored = db.session.scalars(db.select(Invitation)).one()
        assert stored.status == "invited" and stored.created_at.tzinfo is not None
        db.session.add(Invitation(event_id=event.id, member_id=member.id, nonce="b"))
        with pytest.raises(IntegrityError):
            db.session.commit()
        db.session.rollback()
