"""Member pages: "My invitations" and the personal calendar feed (routes on `events`)."""
from __future__ import annotations

from urllib.parse import quote, urlsplit

from flask import Response, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from ... import signing
from ...community.models import Member
from ...extensions import db
from ...security import Role, public, roles_required
from ...timeutil import utcnow
from ...web import ConfirmForm
from .. import notifications, rules, services
from ..blueprint import bp
from ..models import Event, EventStatus, Invitation
from . import feed

PAST_LIMIT = 50


def _feed_urls(token: str) -> dict[str, str]:
    """The feed as webcal:// (calendar apps subscribe), http(s):// and a Google "add" link."""
    base = notifications.base_url()
    http_url = f"{base}/calendar/{token}.ics"
    parts = urlsplit(http_url)
    webcal = "webcal://" + parts.netloc + parts.path
    google = "https://calendar.google.com/calendar/render?cid=" + quote(http_url, safe="")
    return {"webcal": webcal, "http": http_url, "google": google}


def _rows(member_id: int, now):
    """(upcoming, past) invitations of the member with their event, link and Google URL."""
    upcoming, past = services.member_invitations(db.session, member_id, now=now,
                                                 past_limit=PAST_LIMIT)

    def item(invitation: Invitation, event: Event) -> dict:
        # The personal link expires some time after the event (rules.link_expiry).
        live = now <= rules.link_expiry(event.ends_at)
        token = notifications.make_token(invitation.id, invitation.nonce) if live else None
        return {"invitation": invitation, "event": event, "token": token,
                "google_url": notifications.google_link(event)
                if event.status != EventStatus.CANCELLED else None}

    return [item(i, e) for i, e in upcoming], [item(i, e) for i, e in past]


@bp.route("/me/invitations")
@roles_required(Role.MEMBER)
def my_invitations():
    member_id = current_user.member_id
    member = db.session.get(Member, member_id) if member_id else None
    if member is None:
        return render_template("events/member/invitations.html", member=None, upcoming=[],
                               past=[], feed_urls=None, confirm=ConfirmForm())
    upcoming, past = _rows(member.id, utcnow())
    own_feed = feed.feed_of(db.session, member.id)
    feed_urls = _feed_urls(own_feed.token) if own_feed and own_feed.token else None
    return render_template("events/member/invitations.html", member=member, upcoming=upcoming,
                           past=past, past_limit=PAST_LIMIT, feed_urls=feed_urls,
                           confirm=ConfirmForm())


def _member_id_or_redirect():
    if not current_user.member_id or db.session.get(Member, current_user.member_id) is None:
        flash(_("Your account is not linked to a member record."), "error")
        return None
    return current_user.member_id


@bp.route("/me/calendar-feed", methods=["POST"])
@roles_required(Role.MEMBER)
def reset_feed():
    member_id = _member_id_or_redirect()
    if member_id is not None and ConfirmForm().validate_on_submit():
        had = feed.feed_of(db.session, member_id)
        feed.reset_feed(db.session, member_id, now=utcnow())
        if had is not None and had.revoked_at is None and had.token:
            flash(_("New calendar address created. The old address no longer works."),
                  "success")
        else:
            flash(_("Your calendar address is ready."), "success")
    return redirect(url_for("events.my_invitations") + "#feed")


@bp.route("/me/calendar-feed/disable", methods=["POST"])
@roles_required(Role.MEMBER)
def disable_feed():
    member_id = _member_id_or_redirect()
    if member_id is not None and ConfirmForm().validate_on_submit():
        if feed.disable_feed(db.session, member_id, now=utcnow()):
            flash(_("Calendar address switched off."), "success")
    return redirect(url_for("events.my_invitations") + "#feed")


def _details_url(event_id: int) -> str:
    return f"{notifications.base_url()}/e/{feed.details_token(event_id)}"


@bp.route("/e/<token>")
@public
def event_details(token: str):
    """The read-only event page the personal feed links to: what, when, where; no RSVP."""
    try:
        event = db.session.get(Event, feed.read_details_token(token))
    except signing.LinkInvalid:
        event = None
    if event is None or event.status == EventStatus.DRAFT:
        abort(404)
    response = Response(render_template("events/calendar/details.html", event=event))
    response.headers["X-Robots-Tag"] = "noindex, nofollow"
    return response


@bp.route("/calendar/<token>.ics")
@public
def calendar_feed(token: str):
    member_id = feed.member_for_token(db.session, token)
    if member_id is None:
        abort(404)
    now = utcnow()
    member = db.session.get(Member, member_id)
    rows = feed.feed_rows(db.session, member_id, now)
    name = _("Community events – %(name)s", name=member.display_name if member else "")
    data = feed.build_feed(
        [(event, _details_url(event.id)) for _inv, event in rows], name=name)
    response = Response(data, mimetype="text/calendar")
    response.headers["Content-Type"] = "text/calendar; charset=utf-8"
    response.headers["Content-Disposition"] = 'inline; filename="events.ics"'
    # Private: the URL is a secret, so no shared cache may keep a copy; clients re-check.
    response.headers["Cache-Control"] = "private, max-age=900"
    response.headers["X-Robots-Tag"] = "noindex, nofollow"
    # Weak: the bytes differ in the links' signing time, the content does not.
    response.set_etag(feed.feed_etag(rows, name=name), weak=True)
    return response.make_conditional(request)
