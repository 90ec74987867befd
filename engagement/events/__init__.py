"""Events, invitations and calendar invitations (SPEC §4a, §7)."""
from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask import Flask


def _attended_within_days(value: Any):
    from sqlalchemy import select

    from ..community.models import Member
    from ..timeutil import utcnow
    from .models import Invitation

    since = utcnow() - timedelta(days=int(value))
    return Member.id.in_(select(Invitation.member_id).where(Invitation.checked_in_at >= since))


def _invited_to_event(value: Any):
    from sqlalchemy import select

    from ..community.models import Member
    from .models import Invitation

    return Member.id.in_(select(Invitation.member_id).where(Invitation.event_id == int(value)))


def _positive_days(value: Any) -> int:
    if isinstance(value, bool):
        raise ValueError("must be a whole number of days")
    days = int(str(value).strip())
    if not 1 <= days <= 36500:
        raise ValueError("must be between 1 and 36500 days")
    return days


def _event_id(value: Any) -> int:
    if isinstance(value, bool):
        raise ValueError("must be an event id")
    event_id = int(str(value).strip())
    if event_id < 1:
        raise ValueError("must be an event id")
    return event_id


def register_segment_criteria() -> None:
    """Offer "attended an event within N days" and "invited to event X" to segments."""
    try:
        from ..community.segments.services import register_criterion_filter
    except ImportError:  # segments not installed in this build
        return
    from flask_babel import lazy_gettext as _l

    register_criterion_filter("attended_event_within_days", _attended_within_days,
                              label=_l("Attended an event within (days)"), in_form=True,
                              validate=_positive_days)
    register_criterion_filter("invited_to_event", _invited_to_event,
                              label=_l("Invited to event (id)"), validate=_event_id)


def init_app(app: Flask) -> None:
    """Register the events blueprint and the segment criteria events owns."""
    from . import models  # noqa: F401  (tables known to the metadata)
    from .views import bp

    if "events" not in app.blueprints:
        app.register_blueprint(bp)
    from .inbound import ingest_replies_command

    app.cli.add_command(ingest_replies_command)
    register_segment_criteria()
