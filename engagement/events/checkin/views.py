"""Check-in pages: ticket with QR code, scan/confirm page, door list, walk-ins, no-shows."""
from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user

from ... import signing
from ...db import paginate
from ...extensions import db
from ...security import Role, current_role, public, roles_required
from ...timeutil import utcnow
from ...web import ConfirmForm, page_arg
from ..blueprint import bp, event_or_404, in_zone, invitation_from_token
from ..models import Event, EventStatus, Invitation, InvitationStatus
from . import qr, tickets
from . import services as checkin

PER_PAGE = 50
DOOR_KEY = "door_event_id"  # the event whose door list this manager opened last
JUST_KEY = "just_checked_in"  # the invitation this manager just checked in (green tick once)


def _door_event() -> Event | None:
    """The event the manager is checking in for: the door list they opened last."""
    raw = session.get(DOOR_KEY)
    return db.session.get(Event, raw) if isinstance(raw, int) else None


def _guard(event: Event) -> Event:
    """Door staff reach only the events assigned to them (403 for every other one)."""
    if current_role() == Role.DOOR and not checkin.is_assigned(db.session, current_user.id,
                                                               event.id):
        abort(403)
    return event


def _plus_one_arg() -> bool | None:
    """The door's answer for an announced plus-one: "1" came, "0" did not, absent: came."""
    raw = request.form.get("plus_one")
    return None if raw is None else raw == "1"


def _at(moment, event: Event) -> str:
    return in_zone(moment, event.timezone, "HH:mm")


def _refusal(exc: checkin.CheckinError, inv: Invitation, door: Event | None) -> str:
    """What the door staff read when a check-in is refused."""
    event = inv.event
    if exc.code == "wrong_event":
        return _("This ticket is for %(other)s (%(when)s), not for %(here)s.",
                 other=event.title, when=in_zone(event.starts_at, event.timezone, "short"),
                 here=door.title if door else _("this event"))
    opens, closes = checkin.window_bounds(event)
    if exc.code == "not_open":
        return _("Check-in opens at %(when)s.", when=in_zone(opens, event.timezone, "short"))
    if exc.code in ("closed", "expired"):
        return _("Check-in for this event closed at %(when)s.",
                 when=in_zone(closes, event.timezone, "short"))
    return _("Only accepted invitations can be checked in.")


def _check_in_and_flash(inv: Invitation, *, source: str, door: Event | None) -> None:
    """The one check-in every door path uses, with its result as a flash message."""
    try:
        if checkin.check_in(db.session, inv, now=utcnow(), source=source,
                            event_id=door.id if door else None, plus_one=_plus_one_arg()):
            session[JUST_KEY] = inv.id
            flash(_("%(name)s is checked in.", name=inv.member.display_name), "success")
        else:
            flash(_("Already checked in at %(time)s.",
                    time=_at(inv.checked_in_at, inv.event)), "warning")
    except checkin.CheckinError as exc:
        flash(_refusal(exc, inv, door), "error")


@bp.app_template_global("checkin_summary")
def checkin_summary(event) -> dict:
    """Door counts for the event page (one aggregate query); no-shows once it is over."""
    counts = checkin.door_counts(db.session, event.id)
    over = utcnow() > event.ends_at
    return {"checked_in": counts.checked_in, "accepted": counts.accepted, "over": over,
            "no_shows": counts.remaining if over else None}


@bp.route("/i/<token>/ticket")
@public
def ticket(token: str):
    """The invitee's ticket: the QR code the door staff scan (accepted invitations only)."""
    invitation, status = invitation_from_token(token)
    if invitation is None:
        return render_template("events/invitation_invalid.html", reason=status), status
    svg = url = None
    # A seat held after a calendar "Accept" gets its ticket once the answers are complete.
    action_needed = invitation.action_needed_until is not None
    if (invitation.status == InvitationStatus.ACCEPTED and not action_needed
            and invitation.event.status != EventStatus.CANCELLED):
        url = tickets.checkin_url(invitation.id, invitation.nonce)
        svg = qr.qr_svg(url)
    return render_template("events/checkin/ticket.html", invitation=invitation,
                           event=invitation.event, token=token, qr_svg=svg, checkin_url=url,
                           action_needed=action_needed)


def _scanned(token: str):
    """(invitation, None) or (None, error response) for a scan token."""
    try:
        return checkin.load_by_token(db.session, token, now=utcnow()), None
    except signing.LinkInvalid:
        return None, (render_template("events/checkin/invalid.html", reason=404), 404)
    except checkin.CheckinError:
        return None, (render_template("events/checkin/invalid.html", reason=410), 410)


@bp.route("/checkin/<token>")
@roles_required(Role.MANAGER, Role.DOOR)
def scan(token: str):
    """What a manager's phone camera opens: who it is, and one button to check them in."""
    invitation, error = _scanned(token)
    if error:
        return error
    event = _guard(invitation.event)
    door = _door_event()
    wrong = door if door is not None and door.id != event.id else None
    just = session.pop(JUST_KEY, None) == invitation.id
    state = checkin.window_state(event, utcnow())
    opens, _closes = checkin.window_bounds(event)
    return render_template(
        "events/checkin/scan.html", invitation=invitation, event=event,
        member=invitation.member, token=token, form=ConfirmForm(), wrong_event=wrong,
        again=invitation.checked_in_at is not None and not just, window=state, opens=opens,
        refusal=_refusal(checkin.CheckinError("wrong_event", ""), invitation, door)
        if wrong else None), 409 if wrong else 200


@bp.route("/checkin/<token>", methods=["POST"])
@roles_required(Role.MANAGER, Role.DOOR)
def scan_check_in(token: str):
    invitation, error = _scanned(token)
    if error:
        return error
    _guard(invitation.event)
    if not ConfirmForm().validate_on_submit():
        flash(_("The form has expired; please try again."), "error")
        return redirect(url_for("events.scan", token=token))
    _check_in_and_flash(invitation, source="scan", door=_door_event())
    return redirect(url_for("events.scan", token=token))


@bp.route("/checkin/<token>/undo", methods=["POST"])
@roles_required(Role.MANAGER, Role.DOOR)
def scan_undo(token: str):
    invitation, error = _scanned(token)
    if error:
        return error
    _guard(invitation.event)
    try:
        if ConfirmForm().validate_on_submit() and checkin.undo_check_in(
                db.session, invitation, now=utcnow()):
            flash(_("Check-in undone."), "success")
    except checkin.CheckinError as exc:
        flash(_refusal(exc, invitation, None), "error")
    return redirect(url_for("events.scan", token=token))


@bp.route("/door")
@roles_required(Role.DOOR)
def my_doors():
    """Door staff's start page: the events they check people in at."""
    return render_template("events/checkin/my_doors.html",
                           events=checkin.assigned_events(db.session, current_user.id))


@bp.route("/events/<int:event_id>/door")
@roles_required(Role.MANAGER, Role.DOOR)
def door(event_id: int):
    """Manual check-in: search the invitees, check in or undo, record walk-ins."""
    event = _guard(event_or_404(event_id))
    # Scans from now on are for this event: a ticket of another one is refused.
    session[DOOR_KEY] = event.id
    q = (request.args.get("q") or "").strip()
    wq = (request.args.get("wq") or "").strip()
    rows = paginate(db.session, checkin.door_list_query(db.session, event.id, q), page=page_arg(),
                    per_page=PER_PAGE, scalars=False)
    return render_template(
        "events/checkin/door.html", event=event, rows=rows.items, q=q, wq=wq, page=rows.page,
        has_next=rows.has_next, counts=checkin.door_counts(db.session, event.id),
        plus_ones=checkin.plus_one_count(db.session, event.id),
        guests=checkin.walk_in_guests(db.session, event.id),
        walk_in_candidates=checkin.walk_in_candidates(db.session, event.id, wq),
        open=not checkin.scan_expired(event, utcnow()),
        window=checkin.window_state(event, utcnow()), opens=checkin.window_bounds(event)[0])


def _door_invitation(event_id: int, invitation_id: int) -> Invitation:
    inv = db.session.get(Invitation, invitation_id)
    if inv is None or inv.event_id != event_id:
        abort(404)
    _guard(inv.event)
    return inv


def _back_to_door(event_id: int):
    q = (request.form.get("q") or "").strip()
    return redirect(url_for("events.door", event_id=event_id, q=q or None))


@bp.route("/events/<int:event_id>/door/<int:invitation_id>/check-in", methods=["POST"])
@roles_required(Role.MANAGER, Role.DOOR)
def door_check_in(event_id: int, invitation_id: int):
    inv = _door_invitation(event_id, invitation_id)
    if not ConfirmForm().validate_on_submit():
        flash(_("The form has expired; please try again."), "error")
        return _back_to_door(event_id)
    _check_in_and_flash(inv, source="door", door=inv.event)
    return _back_to_door(event_id)


def _ticket_token(text: str) -> str:
    """The token of a scanned or typed ticket: the scan URL (`.../checkin/<token>`) or the
    token itself (hand-held scanners type what the QR code holds)."""
    text = text.strip().split("?", 1)[0].split("#", 1)[0].rstrip("/")
    return text.rsplit("/checkin/", 1)[-1] if "/checkin/" in text else text


@bp.route("/events/<int:event_id>/door/scan", methods=["POST"])
@roles_required(Role.MANAGER, Role.DOOR)
def door_scan(event_id: int):
    """A ticket scanned into (or typed into) this event's door list."""
    event = _guard(event_or_404(event_id))
    if not ConfirmForm().validate_on_submit():
        flash(_("The form has expired; please try again."), "error")
        return _back_to_door(event_id)
    try:
        inv = checkin.load_by_token(db.session, _ticket_token(request.form.get("ticket", "")),
                                    now=utcnow())
    except signing.LinkInvalid:
        flash(_("This is not a valid ticket."), "error")
        return _back_to_door(event_id)
    except checkin.CheckinError:
        flash(_("This ticket has expired."), "error")
        return _back_to_door(event_id)
    _check_in_and_flash(inv, source="door", door=event)
    return _back_to_door(event_id)


@bp.route("/events/<int:event_id>/door/<int:invitation_id>/undo", methods=["POST"])
@roles_required(Role.MANAGER, Role.DOOR)
def door_undo(event_id: int, invitation_id: int):
    inv = _door_invitation(event_id, invitation_id)
    try:
        if ConfirmForm().validate_on_submit() and checkin.undo_check_in(
                db.session, inv, now=utcnow()):
            flash(_("Check-in of %(name)s undone.", name=inv.member.display_name), "success")
    except checkin.CheckinError as exc:
        flash(_refusal(exc, inv, inv.event), "error")
    return _back_to_door(event_id)


@bp.route("/events/<int:event_id>/door/walk-in", methods=["POST"])
@roles_required(Role.MANAGER, Role.DOOR)
def door_walk_in(event_id: int):
    event = _guard(event_or_404(event_id))
    if not ConfirmForm().validate_on_submit():
        flash(_("The form has expired; please try again."), "error")
        return _back_to_door(event_id)
    raw = (request.form.get("member_id") or "").strip()
    if not raw.isdigit():
        flash(_("Choose a member."), "error")
        return _back_to_door(event_id)
    try:
        inv = checkin.record_walk_in(db.session, event, int(raw), now=utcnow())
    except LookupError:
        flash(_("No such member."), "error")
    except checkin.CheckinError as exc:
        if exc.code == "already_invited":
            flash(_("This member is already invited: check them in from the list."), "error")
        else:
            flash(_("Walk-ins can only be recorded for published events."), "error")
    else:
        flash(_("Walk-in recorded: %(name)s is checked in.", name=inv.member.display_name),
              "success")
    return _back_to_door(event_id)


@bp.route("/events/<int:event_id>/door/guest", methods=["POST"])
@roles_required(Role.MANAGER, Role.DOOR)
def door_walk_in_guest(event_id: int):
    """Someone who is not a member: their name and e-mail address, checked in at once."""
    event = _guard(event_or_404(event_id))
    if not ConfirmForm().validate_on_submit():
        flash(_("The form has expired; please try again."), "error")
        return _back_to_door(event_id)
    try:
        guest = checkin.record_walk_in_guest(db.session, event, request.form.get("name", ""),
                                             request.form.get("email"), now=utcnow())
    except checkin.CheckinError as exc:
        if exc.code == "no_name":
            flash(_("Enter the guest's name."), "error")
        elif exc.code == "not_published":
            flash(_("Walk-ins can only be recorded for published events."), "error")
        else:
            opens, closes = checkin.window_bounds(event)
            flash(_("Check-in opens at %(when)s.", when=in_zone(opens, event.timezone, "short"))
                  if exc.code == "not_open" else
                  _("Check-in for this event closed at %(when)s.",
                    when=in_zone(closes, event.timezone, "short")), "error")
    else:
        flash(_("Walk-in guest recorded: %(name)s is checked in.", name=guest.name), "success")
    return _back_to_door(event_id)


@bp.route("/events/<int:event_id>/door-staff", methods=["POST"])
@roles_required(Role.MANAGER)
def assign_door_staff(event_id: int):
    """Assign a door-staff login to the event (from the event page)."""
    event = event_or_404(event_id)
    raw = (request.form.get("user_id") or "").strip()
    if not ConfirmForm().validate_on_submit() or not raw.isdigit():
        flash(_("Choose a door-staff login."), "error")
    else:
        try:
            checkin.assign_door_staff(db.session, event, int(raw), now=utcnow())
            flash(_("Door staff assigned."), "success")
        except LookupError:
            flash(_("No such door-staff login."), "error")
    return redirect(url_for("events.detail", event_id=event_id))


@bp.route("/events/<int:event_id>/door-staff/<int:user_id>/remove", methods=["POST"])
@roles_required(Role.MANAGER)
def unassign_door_staff(event_id: int, user_id: int):
    event = event_or_404(event_id)
    if ConfirmForm().validate_on_submit() and checkin.unassign_door_staff(
            db.session, event, user_id, now=utcnow()):
        flash(_("Door staff removed from the event."), "success")
    return redirect(url_for("events.detail", event_id=event_id))


@bp.app_template_global("door_staff_of")
def door_staff_of(event) -> dict:
    """Assigned door staff and the door logins one could assign (the event page)."""
    return {"assigned": checkin.door_staff(db.session, event.id),
            "candidates": checkin.door_staff_candidates(db.session, event.id)}


@bp.route("/events/<int:event_id>/no-shows")
@roles_required(Role.MANAGER, Role.HR)
def no_shows(event_id: int):
    """Accepted but never checked in, once the event is over (kept on the members)."""
    event = event_or_404(event_id)
    over = utcnow() > event.ends_at
    rows = None
    if over:
        rows = paginate(db.session, checkin.no_shows_query(event.id), page=page_arg(),
                        per_page=PER_PAGE, scalars=False)
    return render_template("events/checkin/no_shows.html", event=event, over=over,
                           rows=rows.items if rows else [], total=rows.total if rows else 0,
                           page=rows.page if rows else page_arg(),
                           pages=rows.pages if rows else 1)
