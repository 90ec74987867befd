"""Events, invitations, RSVP, check-in and calendars (SPEC §4a, §7).

Rooms: the event core at this level (models, rules, services, forms, views, notifications,
demo, attendance), `rsvp/`, `checkin/` and `calendar/`. `init_app` wires everything; no
module registers itself when imported.
"""
from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask import Flask


def _attended_within_days(value: Any):
    from ..community.models import Member
    from ..timeutil import utcnow
    from .attendance import checked_in_since

    return Member.id.in_(checked_in_since(utcnow() - timedelta(days=int(value))))


def _no_show_within_days(value: Any):
    from ..community.models import Member
    from ..timeutil import utcnow
    from .attendance import no_show_between

    now = utcnow()
    return Member.id.in_(no_show_between(now - timedelta(days=int(value)), now))


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
    """Offer "attended an event within N days", "no-show within N days" and "invited to
    event X" to segments."""
    from flask_babel import lazy_gettext as _l

    from ..community.segments.services import register_criterion_filter

    # No-shows stay on the member's invitations, so segments can find them later.
    register_criterion_filter("no_show_within_days", _no_show_within_days,
                              label=_l("Did not show up at an event within (days)"),
                              in_form=True, validate=_positive_days)
    register_criterion_filter("attended_event_within_days", _attended_within_days,
                              label=_l("Attended an event within (days)"), in_form=True,
                              validate=_positive_days)
    register_criterion_filter("invited_to_event", _invited_to_event,
                              label=_l("Invited to event (id)"), validate=_event_id)


def init_app(app: Flask) -> None:
    """Register the events blueprint with every view module's routes, the CLI commands,
    the event mail renderers and the segment criteria events owns."""
    from . import (  # noqa: F401  (views: the core event pages)
        member_lookup,
        models,  # noqa: F401  (tables known to the metadata)
        notifications,
        views,
    )
    from .blueprint import bp
    from .calendar import manager_views as _calendar_manager_views  # noqa: F401
    from .calendar import models as _calendar_models  # noqa: F401
    from .calendar import views as _calendar_views  # noqa: F401
    from .calendar.cli import delegates_command, ingest_replies_command
    from .checkin import views as _checkin_views  # noqa: F401
    from .rsvp import manager_views as _rsvp_manager_views  # noqa: F401
    from .rsvp import views as _rsvp_views  # noqa: F401
    from .rsvp.cli import expire_offers_command

    if "events" not in app.blueprints:
        app.register_blueprint(bp)
    app.cli.add_command(ingest_replies_command)
    app.cli.add_command(delegates_command)
    app.cli.add_command(expire_offers_command)
    notifications.register_mail_renderers()
    register_segment_criteria()
    member_lookup.init_app(app)  # who may ask for a sign-in link: invited members
