"""The manager's RSVP tools: CSV export with answers, remind non-responders, answer on a
member's behalf (quick, or in full with consents and overbooking), the event's consents and
the waiting-list order (routes on `events`)."""
from __future__ import annotations

import csv
import io
from collections.abc import Iterator

from flask import (
    Response,
    abort,
    flash,
    redirect,
    render_template,
    request,
    stream_with_context,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user

from ... import audit
from ...extensions import db
from ...formatting import safe_row
from ...security import Role, roles_required
from ...timeutil import utcnow
from ...web import ConfirmForm
from .. import reissue
from ..blueprint import bp, event_or_404, status_label
from ..models import Invitation
from . import consents as consent_services
from . import services as rsvp
from .forms import ConsentForm, ManagerAnswerForm, ManagerRsvpForm

CSV_HEADER = ["invitation_id", "member_id", "name", "email", "status", "waitlist_position",
              "plus_one", "responded_at", "source", "checked_in_at"]


def _back(event_id: int, anchor: str = ""):
    return redirect(url_for("events.detail", event_id=event_id) + anchor)


def _csv_line(inv: Invitation, name: str, email: str | None, questions, consent_keys,
              given: dict[str, str]) -> list:
    answers = inv.answers or {}
    return safe_row(
        [inv.id, inv.member_id, name, email or "", str(inv.status),
         inv.waitlist_position or "", "yes" if inv.plus_one else "no",
         inv.responded_at.isoformat() if inv.responded_at else "", inv.rsvp_source or "",
         inv.checked_in_at.isoformat() if inv.checked_in_at else ""]
        + [answers.get(qid, "") for qid, _label in questions]
        + [given.get(k, "") for k in consent_keys])


@bp.route("/events/<int:event_id>/invitations.csv")
@roles_required(Role.MANAGER, Role.HR)
def invitations_csv(event_id: int):
    event = event_or_404(event_id)
    # Plain values: the rows are produced after the request's commit expired the objects.
    questions = [(str(q.id), q.label) for q in event.questions]
    consent_keys = rsvp.consent_keys(db.session, event.id)
    audit.record(db.session, "event.export_invitations", "event", event.id)

    def rows() -> Iterator[str]:
        buf = io.StringIO()
        writer = csv.writer(buf)
        writer.writerow(safe_row(CSV_HEADER + [label for _id, label in questions]
                                 + [f"consent:{k}" for k in consent_keys]))
        for batch in rsvp.guest_list_batches(db.session, event_id):
            given = consent_services.latest_answers(db.session, [inv.id for inv, _n, _e in batch])
            for inv, name, email in batch:
                writer.writerow(_csv_line(inv, name, email, questions, consent_keys,
                                          given.get(inv.id, {})))
            yield buf.getvalue()
            buf.seek(0)
            buf.truncate()
        yield buf.getvalue()

    # Streamed batch by batch: an event with tens of thousands of invitees is never held
    # in memory as a whole.
    response = Response(stream_with_context(rows()), mimetype="text/csv")
    response.headers["Content-Disposition"] = (
        f'attachment; filename="event-{event_id}-invitations.csv"')
    return response


@bp.route("/events/<int:event_id>/remind", methods=["POST"])
@roles_required(Role.MANAGER)
def remind(event_id: int):
    event = event_or_404(event_id)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    try:
        n = rsvp.remind_non_responders(db.session, event, now=utcnow())
    except rsvp.NotPublished:
        flash(_("Only a published event's invitees can be reminded."), "error")
        return _back(event.id)
    flash(_("Reminder queued for %(n)s invitees who have not answered.", n=n), "success")
    return _back(event.id)


@bp.route("/events/<int:event_id>/invitations/<int:invitation_id>/rsvp", methods=["POST"])
@roles_required(Role.MANAGER)
def manager_rsvp(event_id: int, invitation_id: int):
    event = event_or_404(event_id)
    invitation = db.session.get(Invitation, invitation_id)
    if invitation is None or invitation.event_id != event.id:
        abort(404)
    form = ManagerRsvpForm()
    if not form.validate_on_submit():
        flash(_("Choose an answer."), "error")
        return _back(event.id)
    try:
        # On the member's behalf: also after the deadline (audited as such).
        result = rsvp.respond(db.session, invitation, form.status.data, now=utcnow(),
                              source="manager", by_manager=True)
    except rsvp.RsvpClosed as exc:
        flash(_(str(exc)), "error")
        return _back(event.id)
    except rsvp.RsvpNotAllowed as exc:
        db.session.rollback()
        flash(_(str(exc)), "error")
        return _back(event.id)
    flash(_("Answer recorded: %(status)s.", status=_status_text(result)), "success")
    return _back(event.id)


def _manager_label() -> str:
    return getattr(current_user, "email", None) or f"user {getattr(current_user, 'id', '?')}"


@bp.route("/events/<int:event_id>/invitations/<int:invitation_id>/answer",
          methods=["GET", "POST"])
@roles_required(Role.MANAGER)
def manager_answer(event_id: int, invitation_id: int):
    """The full answer on a member's behalf: questions, consents (with how the member gave
    them), and a deliberate overbooking with its reason."""
    event = event_or_404(event_id)
    invitation = db.session.get(Invitation, invitation_id)
    if invitation is None or invitation.event_id != event.id:
        abort(404)
    consents = rsvp.event_consents(db.session, event.id)
    latest = rsvp.current_consents(db.session, invitation.id)
    form = ManagerAnswerForm(formdata=request.form if request.method == "POST" else None)
    errors: list[str] = []
    answers = invitation.answers or {}
    given = {k: c.given for k, c in latest.items()}
    if request.method == "GET":
        form.status.data = "accepted" if str(invitation.status) in ("accepted", "waitlisted") \
            else (str(invitation.status) if str(invitation.status) in ("tentative", "declined")
                  else "accepted")
        form.plus_one.data = bool(invitation.plus_one)
    elif form.validate():
        answers = {k[1:]: v for k, v in request.form.items()
                   if k.startswith("q") and k[1:].isdigit()}
        given = {c.key: request.form.get(f"consent_{c.key}") == "1" for c in consents}
        note = (form.consent_source.data or "").strip()
        reason = (form.overbook_reason.data or "").strip() if form.overbook.data else ""
        if any(given.values()) and not note:
            errors.append(_("Say how the member gave the consents (e.g. by phone on 3 May)."))
        if form.overbook.data and not reason:
            errors.append(_("Give a reason for seating this member beyond capacity."))
        if not errors:
            try:
                result = rsvp.respond(
                    db.session, invitation, form.status.data, now=utcnow(), answers=answers,
                    plus_one=bool(form.plus_one.data),
                    consents=given if note else None, source="manager", by_manager=True,
                    overbook_reason=reason or None,
                    consent_source=f"manager {_manager_label()}: {note}" if note else None)
            except rsvp.RsvpInvalid as exc:
                db.session.rollback()
                errors += _invalid_texts(exc.errors, event)
            except (rsvp.RsvpClosed, rsvp.RsvpNotAllowed) as exc:
                db.session.rollback()
                errors.append(_(str(exc)))
            else:
                flash(_("Answer recorded: %(status)s.", status=_status_text(result)), "success")
                return _back(event.id)
    else:
        errors.append(_("Choose an answer."))
    return render_template(
        "events/manager_answer.html", event=event, invitation=invitation, form=form,
        consents=consents, latest=latest, given=given, answers=answers,
        errors=errors), 422 if errors else 200


def _invalid_texts(errors: dict[str, str], event) -> list[str]:
    labels = {f"q{q.id}": q.label for q in event.questions}
    return [_("Required consent not given: %(key)s", key=k.split(":", 1)[1])
            if k.startswith("consent:") else _("Please answer: %(q)s", q=labels.get(k, k))
            for k in errors]


@bp.route("/events/<int:event_id>/invitations/<int:invitation_id>/reissue", methods=["POST"])
@roles_required(Role.MANAGER)
def reissue_link(event_id: int, invitation_id: int):
    """New link for one invitee: every old invitation and ticket link stops working."""
    event = event_or_404(event_id)
    invitation = db.session.get(Invitation, invitation_id)
    if invitation is None or invitation.event_id != event.id:
        abort(404)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    mailed = reissue.reissue_link(db.session, invitation, now=utcnow(),
                                  send_mail=request.form.get("send_mail") == "1")
    flash(_("New link issued; old links no longer work.") + (
        " " + _("The invitation was sent again.") if mailed else ""), "success")
    return redirect(url_for("events.detail", event_id=event.id))


def _status_text(result: rsvp.RsvpResult) -> str:
    text = status_label(result.status)
    if result.waitlist_position:
        text += f" ({result.waitlist_position})"
    return text


@bp.route("/events/<int:event_id>/consents", methods=["POST"])
@roles_required(Role.MANAGER)
def save_consent(event_id: int):
    """Add a consent, or change one by key (a changed text is a new version)."""
    event = event_or_404(event_id)
    form = ConsentForm()
    if not form.validate_on_submit():
        flash(_("A consent needs a key (lower-case letters, digits, - or _) and a text."),
              "error")
        return _back(event.id, "#consents")
    consent_services.save_consent(db.session, event.id, consent_services.ConsentInput(
        key=form.key.data, text=form.text.data, required=bool(form.required.data)))
    flash(_("Consent saved."), "success")
    return _back(event.id, "#consents")


@bp.route("/events/<int:event_id>/consents/<int:consent_id>/delete", methods=["POST"])
@roles_required(Role.MANAGER)
def delete_consent(event_id: int, consent_id: int):
    event = event_or_404(event_id)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    if not consent_services.delete_consent(db.session, event.id, consent_id):
        abort(404)
    flash(_("Consent removed; answers already given stay recorded."), "success")
    return _back(event.id, "#consents")


@bp.route("/events/<int:event_id>/waitlist-order", methods=["POST"])
@roles_required(Role.MANAGER)
def waitlist_order(event_id: int):
    """First come, or tier priority; only while nobody waits (positions stay meaningful)."""
    event = event_or_404(event_id)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    try:
        rsvp.set_waitlist_order(db.session, event, by_tier=request.form.get("order") == "tier")
    except rsvp.WaitlistOrderLocked:
        flash(_("The waiting-list order can only change while nobody is waiting."), "error")
        return _back(event.id)
    flash(_("Waiting-list order saved."), "success")
    return _back(event.id)
