"""Check-in pages: ticket with QR code, scan/confirm page, door list, walk-ins, no-shows."""
from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from itsdangerous import BadSignature
from sqlalchemy import func, or_, select

from ..community.models import Member
from ..extensions import db
from ..security import Role, public, roles_required
from ..timeutil import utcnow
from ..web import ConfirmForm
from . import checkin
from .checkin_rules import checkin_expiry
from .models import Invitation, InvitationStatus
from .views import _event_or_404, _invitation_from_token, bp

PER_PAGE = 50
checkin.register_segment_criteria()


@bp.app_template_global("checkin_summary")
def checkin_summary(event) -> dict:
    """Door counts for the event page (one aggregate query); no-shows once it is over."""
    counts = checkin.door_counts(db.session, event.id)
    over = utcnow() > event.ends_at
    return {"checked_in": counts.checked_in, "accepted": counts.accepted, "over": over,
            "no_shows": counts.remaining if over else None}


def _like(q: str) -> str:
    return "%" + q.lower().replace("%", "").replace("_", "") + "%"


@bp.route("/i/<token>/ticket")
@public
def ticket(token: str):
    """The invitee's ticket: the QR code the door staff scan (accepted invitations only)."""
    invitation, status = _invitation_from_token(token)
    if invitation is None:
        return render_template("events/invitation_invalid.html", reason=status), status
    svg = url = None
    if invitation.status == InvitationStatus.ACCEPTED and invitation.event.status != "cancelled":
        url = checkin.checkin_url(invitation.id, invitation.nonce)
        svg = checkin.qr_svg(url)
    return render_template("events/checkin/ticket.html", invitation=invitation,
                           event=invitation.event, token=token, qr_svg=svg, checkin_url=url)


def _scanned(token: str):
    """(invitation, None) or (None, error response) for a scan token."""
    try:
        return checkin.load_by_token(db.session, token, now=utcnow()), None
    except BadSignature:
        return None, (render_template("events/checkin/invalid.html", reason=404), 404)
    except checkin.CheckinError:
        return None, (render_template("events/checkin/invalid.html", reason=410), 410)


@bp.route("/checkin/<token>")
@roles_required(Role.MANAGER)
def scan(token: str):
    """What a manager's phone camera opens: who it is, and one button to check them in."""
    invitation, error = _scanned(token)
    if error:
        return error
    return render_template("events/checkin/scan.html", invitation=invitation,
                           event=invitation.event, member=invitation.member, token=token,
                           form=ConfirmForm())


@bp.route("/checkin/<token>", methods=["POST"])
@roles_required(Role.MANAGER)
def scan_check_in(token: str):
    invitation, error = _scanned(token)
    if error:
        return error
    if not ConfirmForm().validate_on_submit():
        flash(_("The form has expired; please try again."), "error")
        return redirect(url_for("events.scan", token=token))
    try:
        if checkin.check_in(db.session, invitation, now=utcnow(), source="scan"):
            flash(_("%(name)s is checked in.", name=invitation.member.display_name), "success")
        else:
            flash(_("Already checked in."), "info")
    except checkin.CheckinError:
        flash(_("Only accepted invitations can be checked in."), "error")
    return redirect(url_for("events.scan", token=token))


@bp.route("/checkin/<token>/undo", methods=["POST"])
@roles_required(Role.MANAGER)
def scan_undo(token: str):
    invitation, error = _scanned(token)
    if error:
        return error
    if ConfirmForm().validate_on_submit() and checkin.undo_check_in(
            db.session, invitation, now=utcnow()):
        flash(_("Check-in undone."), "success")
    return redirect(url_for("events.scan", token=token))


@bp.route("/events/<int:event_id>/door")
@roles_required(Role.MANAGER)
def door(event_id: int):
    """Manual check-in: search the invitees, check in or undo, record walk-ins."""
    event = _event_or_404(event_id)
    q = (request.args.get("q") or "").strip()
    page = max(1, request.args.get("page", 1, type=int) or 1)
    stmt = (select(Invitation, Member).join(Member, Member.id == Invitation.member_id)
            .where(Invitation.event_id == event.id,
                   Invitation.status == InvitationStatus.ACCEPTED))
    if q:
        stmt = stmt.where(or_(func.lower(Member.display_name).like(_like(q)),
                              func.lower(Member.email).like(_like(q))))
    rows = db.session.execute(stmt.order_by(Member.display_name, Invitation.id)
                              .limit(PER_PAGE + 1).offset((page - 1) * PER_PAGE)).all()
    wq = (request.args.get("wq") or "").strip()
    walk_in_candidates = []
    if wq:
        invited = select(Invitation.member_id).where(Invitation.event_id == event.id)
        walk_in_candidates = db.session.scalars(
            select(Member).where(or_(func.lower(Member.display_name).like(_like(wq)),
                                     func.lower(Member.email).like(_like(wq))),
                                 Member.id.not_in(invited))
            .order_by(Member.display_name).limit(20)).all()
    return render_template(
        "events/checkin/door.html", event=event, rows=rows[:PER_PAGE], q=q, wq=wq, page=page,
        has_next=len(rows) > PER_PAGE, counts=checkin.door_counts(db.session, event.id),
        walk_in_candidates=walk_in_candidates, open=utcnow() <= checkin_expiry(event.ends_at))


def _door_invitation(event_id: int, invitation_id: int) -> Invitation:
    inv = db.session.get(Invitation, invitation_id)
    if inv is None or inv.event_id != event_id:
        abort(404)
    return inv


def _back_to_door(event_id: int):
    q = (request.form.get("q") or "").strip()
    return redirect(url_for("events.door", event_id=event_id, q=q or None))


@bp.route("/events/<int:event_id>/door/<int:invitation_id>/check-in", methods=["POST"])
@roles_required(Role.MANAGER)
def door_check_in(event_id: int, invitation_id: int):
    inv = _door_invitation(event_id, invitation_id)
    if not ConfirmForm().validate_on_submit():
        flash(_("The form has expired; please try again."), "error")
        return _back_to_door(event_id)
    try:
        if checkin.check_in(db.session, inv, now=utcnow(), source="door"):
            flash(_("%(name)s is checked in.", name=inv.member.display_name), "success")
        else:
            flash(_("Already checked in."), "info")
    except checkin.CheckinError:
        flash(_("Only accepted invitations can be checked in."), "error")
    return _back_to_door(event_id)


@bp.route("/events/<int:event_id>/door/<int:invitation_id>/undo", methods=["POST"])
@roles_required(Role.MANAGER)
def door_undo(event_id: int, invitation_id: int):
    inv = _door_invitation(event_id, invitation_id)
    if ConfirmForm().validate_on_submit() and checkin.undo_check_in(
            db.session, inv, now=utcnow()):
        flash(_("Check-in of %(name)s undone.", name=inv.member.display_name), "success")
    return _back_to_door(event_id)


@bp.route("/events/<int:event_id>/door/walk-in", methods=["POST"])
@roles_required(Role.MANAGER)
def door_walk_in(event_id: int):
    event = _event_or_404(event_id)
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


@bp.route("/events/<int:event_id>/no-shows")
@roles_required(Role.MANAGER, Role.HR)
def no_shows(event_id: int):
    """Accepted but never checked in, once the event is over (kept on the members)."""
    event = _event_or_404(event_id)
    over = utcnow() > event.ends_at
    page = max(1, request.args.get("page", 1, type=int) or 1)
    rows, total = [], 0
    if over:
        total = db.session.scalar(select(func.count()).select_from(
            checkin.no_shows_query(event.id).subquery())) or 0
        rows = db.session.execute(checkin.no_shows_query(event.id)
                                  .limit(PER_PAGE).offset((page - 1) * PER_PAGE)).all()
    return render_template("events/checkin/no_shows.html", event=event, over=over, rows=rows,
                           total=total, page=page, pages=max(1, -(-total // PER_PAGE)))
