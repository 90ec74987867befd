"""The events blueprint and what every events page shares: lookups that 404, status labels.

View modules (here and in rsvp/, checkin/, calendar/) import `bp` from this module and add
their routes to it; `events.init_app` imports them and registers the blueprint.
"""
from __future__ import annotations

from datetime import datetime

from flask import Blueprint, abort
from flask_babel import get_locale
from flask_babel import lazy_gettext as _l

from .. import signing
from ..extensions import db
from ..formatting import wall_clock
from ..timeutil import utcnow
from . import services
from .models import Event, EventStatus, Invitation, InvitationStatus
from .rsvp.rules import display_state

bp = Blueprint("events", __name__)

SKIP_LABELS = {
    services.SKIP_NOT_FOUND: _l("no such member"),
    services.SKIP_NO_EMAIL: _l("no e-mail address"),
    services.SKIP_OPTED_OUT: _l("opted out of event invitations"),
    services.SKIP_ALREADY_INVITED: _l("already invited"),
    services.SKIP_INVALID_EMAIL: _l("e-mail address cannot be used"),
}
STATUS_LABELS = {
    EventStatus.DRAFT: _l("Draft"), EventStatus.PUBLISHED: _l("Published"),
    EventStatus.CANCELLED: _l("Cancelled"),
    InvitationStatus.INVITED: _l("Invited"), InvitationStatus.ACCEPTED: _l("Accepted"),
    InvitationStatus.TENTATIVE: _l("Tentative"), InvitationStatus.DECLINED: _l("Declined"),
    InvitationStatus.WAITLISTED: _l("Waiting list"),
    "offer_expired": _l("Offer expired"), "hold_expired": _l("Seat released (incomplete)"),
    "action_needed": _l("Accepted, action needed"),
}


@bp.app_template_filter("in_zone")
def in_zone(value: datetime | None, tz_name: str, fmt: str = "medium") -> str:
    """A UTC time on the event's wall clock (not the viewer's), in the page's language,
    to the minute."""
    if value is None:
        return "—"
    return wall_clock(value, tz_name, fmt, str(get_locale()))


@bp.app_template_global("status_label")
def status_label(status) -> str:
    """The translated name of an event or invitation status."""
    return str(STATUS_LABELS.get(str(status), str(status)))


@bp.app_template_global("answer_label")
def answer_label(invitation) -> str:
    """The translated state of an invitation as its reader understands it ("Offer
    expired" rather than "Declined", "Accepted, action needed")."""
    return status_label(answer_state(invitation))


@bp.app_template_global("answer_state")
def answer_state(invitation) -> str:
    """The invitation's display state (rules.display_state), e.g. for a CSS class."""
    return display_state(invitation.status, source=invitation.rsvp_source,
                         action_needed=invitation.action_needed_until is not None)


@bp.app_template_global("skip_label")
def skip_label(reason: str) -> str:
    """The translated reason an invitee was skipped."""
    return str(SKIP_LABELS.get(reason, reason))


def event_or_404(event_id: int) -> Event:
    """The event with this id, or a 404 page."""
    event = db.session.get(Event, event_id)
    if event is None:
        abort(404)
    return event


def invitation_from_token(token: str) -> tuple[Invitation | None, int]:
    """(invitation, 200) for a live personal link; (None, 404) unknown, (None, 410) expired."""
    try:
        return services.load_by_token(db.session, token, now=utcnow()), 200
    except signing.LinkExpired:
        return None, 410
    except signing.LinkInvalid:
        return None, 404
