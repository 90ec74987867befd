"""RSVP pages: the invitee's answer form on the invitation link, the closed page, and the
manager's tools (CSV export with answers, remind non-responders, answer on a member's behalf).

Routes live on the events blueprint (imported at the end of views.py).
"""
from __future__ import annotations

import csv
import io
from collections.abc import Iterator

import click
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
from flask.cli import with_appcontext
from flask_babel import gettext as _
from sqlalchemy import func, select, update

from .. import audit
from ..community.models import Member
from ..csvsafe import safe_row
from ..extensions import db
from ..security import Role, public, roles_required
from ..timeutil import utcnow
from ..web import ConfirmForm
from . import notifications, reissue, rsvp
from . import rsvp_rules as rules
from .forms import ConsentForm, ManagerRsvpForm, RsvpForm
from .models import Event, EventConsent, EventStatus, Invitation, InvitationStatus
from .views import _event_or_404, _invitation_from_token, bp

CSV_BATCH = 1000


def _error_texts(errors: dict[str, str], event: Event) -> list[str]:
    labels = {f"q{q.id}": q.label for q in event.questions}
    texts = []
    for key, code in errors.items():
        if key.startswith("consent:"):
            texts.append(_("Please agree to the consent marked as required."))
        elif code == "required":
            texts.append(_("Please answer: %(q)s", q=labels.get(key, key)))
        elif code == "invalid_choice":
            texts.append(_("Pick one of the offered answers: %(q)s", q=labels.get(key, key)))
        else:
            texts.append(_("The answer is too long: %(q)s", q=labels.get(key, key)))
    return texts


def render_invitation(invitation: Invitation, token: str, *, form: RsvpForm | None = None,
                      errors: list[str] | None = None, status: int = 200):
    """The invitation page: details, the answer form, or the closed page after the deadline."""
    event = invitation.event
    now = utcnow()
    if event.status == EventStatus.PUBLISHED and rsvp.expire_event_offers(
            db.session, event.id, now=now):
        db.session.refresh(invitation)
    closed = rules.is_closed(deadline=event.rsvp_deadline, starts_at=event.starts_at, now=now)
    consents = rsvp.event_consents(db.session, event.id)
    given = {k: c.given for k, c in rsvp.current_consents(db.session, invitation.id).items()}
    if form is None:
        form = RsvpForm(formdata=None)
        current = str(invitation.status)
        form.status.data = current if current in ("accepted", "tentative", "declined") else (
            "accepted" if current == "waitlisted" else None)
        form.plus_one.data = bool(invitation.plus_one)
    answers = invitation.answers or {}
    if request.method == "POST":
        answers = {k[1:]: v for k, v in request.form.items() if k.startswith("q")}
        given = {c.key: request.form.get(f"consent_{c.key}") == "1" for c in consents}
    template = ("events/rsvp_closed.html"
                if closed and event.status != EventStatus.CANCELLED else "events/invitation.html")
    offer_open = (invitation.status == InvitationStatus.WAITLISTED
                  and invitation.offer_expires_at is not None
                  and invitation.offer_expires_at > now)
    return render_template(
        template, invitation=invitation, event=event, token=token, form=form,
        consents=consents, given=given, answers=answers, errors=errors or [],
        offer_open=offer_open, google_url=notifications.google_link(event),
        rsvp_open=not closed and event.status == EventStatus.PUBLISHED
        and invitation.status != InvitationStatus.CANCELLED), status


@bp.route("/i/<token>/rsvp", methods=["POST"])
@public
def rsvp_submit(token: str):
    invitation, status = _invitation_from_token(token)
    if invitation is None:
        return render_template("events/invitation_invalid.html", reason=status), status
    form = RsvpForm()
    if not form.validate_on_submit():
        return render_invitation(invitation, token, form=form,
                                 errors=[_("Please choose an answer.")], status=422)
    event = invitation.event
    answers = {k[1:]: v for k, v in request.form.items()
               if k.startswith("q") and k[1:].isdigit()}
    consents = {c.key: request.form.get(f"consent_{c.key}") == "1"
                for c in rsvp.event_consents(db.session, event.id)}
    try:
        result = rsvp.respond(db.session, invitation, form.status.data, now=utcnow(),
                              answers=answers, plus_one=bool(form.plus_one.data),
                              consents=consents, source="web",
                              actor=f"invitee:{invitation.member_id}")
    except rsvp.RsvpClosed:
        # 200, not an error: the lock bump and any expired offers it handled are kept.
        return render_invitation(invitation, token)
    except rsvp.RsvpInvalid as exc:
        db.session.rollback()
        return render_invitation(invitation, token, form=form,
                                 errors=_error_texts(exc.errors, event), status=422)
    except rsvp.RsvpNotAllowed as exc:
        db.session.rollback()
        return render_invitation(invitation, token, form=form, errors=[_(str(exc))],
                                 status=409)
    flash(_result_message(result), "success")
    return redirect(url_for("events.invitation_page", token=token))


def _result_message(result: rsvp.RsvpResult) -> str:
    if result.status == "accepted":
        return _("Thank you, your place is confirmed. A confirmation is on its way by e-mail.")
    if result.status == "waitlisted":
        return _("The event is fully booked: you are on the waiting list at position %(n)s.",
                 n=result.waitlist_position)
    if result.status == "tentative":
        return _("Noted as maybe. Tentative answers do not hold a seat.")
    return _("Noted: you will not attend. You can change your answer until the deadline.")


# --- manager tools -------------------------------------------------------------------------

@bp.route("/events/<int:event_id>/invitations.csv")
@roles_required(Role.MANAGER, Role.HR)
def invitations_csv(event_id: int):
    event = _event_or_404(event_id)
    # Plain values: the rows are produced after the request's commit expired the objects.
    questions = [(str(q.id), q.label) for q in event.questions]
    consent_keys = [c.key for c in rsvp.event_consents(db.session, event.id)]
    audit.record(db.session, "event.export_invitations", "event", event.id)

    def rows() -> Iterator[str]:
        buf = io.StringIO()
        writer = csv.writer(buf)
        writer.writerow(safe_row(
            ["invitation_id", "member_id", "name", "email", "status", "waitlist_position",
             "plus_one", "responded_at", "source", "checked_in_at"]
            + [label for _id, label in questions] + [f"consent:{k}" for k in consent_keys]))
        last = 0
        while True:
            # Keyset pages: a big event's list is streamed, never loaded at once.
            batch = db.session.execute(
                select(Invitation, Member.display_name, Member.email)
                .join(Member, Member.id == Invitation.member_id)
                .where(Invitation.event_id == event_id, Invitation.id > last)
                .order_by(Invitation.id).limit(CSV_BATCH)).all()
            if not batch:
                break
            consents = _consents_for([inv.id for inv, _n, _e in batch])
            for inv, name, email in batch:
                answers = inv.answers or {}
                given = consents.get(inv.id, {})
                writer.writerow(safe_row(
                    [inv.id, inv.member_id, name, email or "", str(inv.status),
                     inv.waitlist_position or "", "yes" if inv.plus_one else "no",
                     inv.responded_at.isoformat() if inv.responded_at else "",
                     inv.rsvp_source or "",
                     inv.checked_in_at.isoformat() if inv.checked_in_at else ""]
                    + [answers.get(qid, "") for qid, _label in questions]
                    + [given.get(k, "") for k in consent_keys]))
            last = batch[-1][0].id
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


def _consents_for(invitation_ids: list[int]) -> dict[int, dict[str, str]]:
    from .models import InvitationConsent

    out: dict[int, dict[str, str]] = {}
    rows = db.session.scalars(select(InvitationConsent)
                              .where(InvitationConsent.invitation_id.in_(invitation_ids))
                              .order_by(InvitationConsent.id))
    for r in rows:  # later rows win: the latest answer per key
        out.setdefault(r.invitation_id, {})[r.key] = (
            f"{'yes' if r.given else 'no'} (v{r.version}, {r.at.isoformat()})")
    return out


@bp.route("/events/<int:event_id>/remind", methods=["POST"])
@roles_required(Role.MANAGER)
def remind(event_id: int):
    event = _event_or_404(event_id)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    if event.status != EventStatus.PUBLISHED:
        flash(_("Only a published event's invitees can be reminded."), "error")
        return redirect(url_for("events.detail", event_id=event.id))
    n = remind_non_responders(event, now=utcnow())
    flash(_("Reminder queued for %(n)s invitees who have not answered.", n=n), "success")
    return redirect(url_for("events.detail", event_id=event.id))


def remind_non_responders(event: Event, *, now) -> int:
    """Queue a reminder to everyone invited who has not answered (at most once a day)."""
    query = (select(Invitation.id, Invitation.nonce, Invitation.status, Member.display_name,
                    Member.email, Member.locale)
             .join(Member, Member.id == Invitation.member_id)
             .where(Invitation.event_id == event.id,
                    Invitation.status == InvitationStatus.INVITED,
                    Member.email.is_not(None), Member.email != ""))

    def recipients():
        last = 0
        while True:
            rows = db.session.execute(query.where(Invitation.id > last)
                                      .order_by(Invitation.id).limit(CSV_BATCH)).all()
            if not rows:
                return
            for r in rows:
                yield notifications.Recipient(r[0], r[1], str(r[2]), r[3], r[4], r[5])
            last = rows[-1][0]

    # The day in the dedupe key: a second click the same day queues nothing new.
    n = notifications.enqueue_mails(db.session, event, recipients(), kind="reminder", now=now,
                                    key_part=f"nudge:{now.date().isoformat()}:")
    db.session.execute(update(Invitation).where(
        Invitation.event_id == event.id, Invitation.status == InvitationStatus.INVITED)
        .values(reminded_at=now).execution_options(synchronize_session=False))
    audit.record(db.session, "event.remind_non_responders", "event", event.id,
                 after={"queued": n}, at=now)
    return n


@bp.route("/events/<int:event_id>/invitations/<int:invitation_id>/rsvp", methods=["POST"])
@roles_required(Role.MANAGER)
def manager_rsvp(event_id: int, invitation_id: int):
    event = _event_or_404(event_id)
    invitation = db.session.get(Invitation, invitation_id)
    if invitation is None or invitation.event_id != event.id:
        abort(404)
    form = ManagerRsvpForm()
    if not form.validate_on_submit():
        flash(_("Choose an answer."), "error")
        return redirect(url_for("events.detail", event_id=event.id))
    try:
        result = rsvp.respond(db.session, invitation, form.status.data, now=utcnow(),
                              source="manager")
    except rsvp.RsvpClosed:
        flash(_("RSVPs for this event are closed."), "error")
        return redirect(url_for("events.detail", event_id=event.id))
    except rsvp.RsvpNotAllowed as exc:
        db.session.rollback()
        flash(_(str(exc)), "error")
        return redirect(url_for("events.detail", event_id=event.id))
    flash(_("Answer recorded: %(status)s.", status=_status_text(result)), "success")
    return redirect(url_for("events.detail", event_id=event.id))


@bp.route("/events/<int:event_id>/invitations/<int:invitation_id>/reissue", methods=["POST"])
@roles_required(Role.MANAGER)
def reissue_link(event_id: int, invitation_id: int):
    """New link for one invitee: every old invitation and ticket link stops working."""
    event = _event_or_404(event_id)
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
    from .views import status_label

    text = status_label(result.status)
    if result.waitlist_position:
        text += f" ({result.waitlist_position})"
    return text


def status_counts(event_id: int) -> dict[str, int]:
    """Counts per status for the manager view, with "no answer" (still invited)."""
    counts = {s: 0 for s in ("invited", "accepted", "tentative", "declined", "waitlisted",
                             "cancelled")}
    for status, n in db.session.execute(
            select(Invitation.status, func.count()).where(Invitation.event_id == event_id)
            .group_by(Invitation.status)):
        counts[str(status)] = n
    counts["total"] = sum(counts.values())
    counts["plus_ones"] = db.session.scalar(select(func.count()).where(
        Invitation.event_id == event_id, Invitation.status == InvitationStatus.ACCEPTED,
        Invitation.plus_one.is_(True))) or 0
    return counts


@bp.route("/events/<int:event_id>/consents", methods=["POST"])
@roles_required(Role.MANAGER)
def save_consent(event_id: int):
    """Add a consent, or change one by key (a changed text is a new version)."""
    event = _event_or_404(event_id)
    form = ConsentForm()
    if not form.validate_on_submit():
        flash(_("A consent needs a key (lower-case letters, digits, - or _) and a text."),
              "error")
        return redirect(url_for("events.detail", event_id=event.id) + "#consents")
    text = form.text.data.strip()
    row = db.session.scalar(select(EventConsent).where(EventConsent.event_id == event.id,
                                                       EventConsent.key == form.key.data))
    before = None if row is None else {"text": row.text, "version": row.version,
                                       "required": row.required}
    if row is None:
        row = EventConsent(event_id=event.id, key=form.key.data, text=text, version=1,
                           required=bool(form.required.data))
        db.session.add(row)
    else:
        if row.text != text:
            # Answers given to the old text stay recorded with it; the new text asks again.
            row.version += 1
            row.text = text
        row.required = bool(form.required.data)
    db.session.flush()
    audit.record(db.session, "event.consent", "event", event.id, before=before,
                 after={"key": row.key, "text": row.text, "version": row.version,
                        "required": row.required})
    flash(_("Consent saved."), "success")
    return redirect(url_for("events.detail", event_id=event.id) + "#consents")


@bp.route("/events/<int:event_id>/consents/<int:consent_id>/delete", methods=["POST"])
@roles_required(Role.MANAGER)
def delete_consent(event_id: int, consent_id: int):
    event = _event_or_404(event_id)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    row = db.session.get(EventConsent, consent_id)
    if row is None or row.event_id != event.id:
        abort(404)
    audit.record(db.session, "event.consent_delete", "event", event.id,
                 before={"key": row.key, "text": row.text, "version": row.version})
    db.session.delete(row)
    flash(_("Consent removed; answers already given stay recorded."), "success")
    return redirect(url_for("events.detail", event_id=event.id) + "#consents")


@bp.route("/events/<int:event_id>/waitlist-order", methods=["POST"])
@roles_required(Role.MANAGER)
def waitlist_order(event_id: int):
    """First come, or tier priority; only while nobody waits (positions stay meaningful)."""
    event = _event_or_404(event_id)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    by_tier = request.form.get("order") == "tier"
    if by_tier != event.waitlist_by_tier:
        waiting = db.session.scalar(select(func.count()).where(
            Invitation.event_id == event.id, Invitation.status == InvitationStatus.WAITLISTED))
        if waiting:
            flash(_("The waiting-list order can only change while nobody is waiting."), "error")
            return redirect(url_for("events.detail", event_id=event.id))
        event.waitlist_by_tier = by_tier
        audit.record(db.session, "event.waitlist_order", "event", event.id,
                     before={"waitlist_by_tier": not by_tier},
                     after={"waitlist_by_tier": by_tier})
    flash(_("Waiting-list order saved."), "success")
    return redirect(url_for("events.detail", event_id=event.id))


@click.command("expire-offers")
@with_appcontext
def expire_offers_command() -> None:
    """Pass expired waiting-list offers to the next person (run it every few minutes;
    answering and opening invitations of an event also do it for that event)."""
    with audit.acting_as("cli:expire-offers"):
        try:
            n = rsvp.expire_offers(db.session, now=utcnow())
        except Exception as exc:
            db.session.rollback()
            raise click.ClickException(f"expiring offers failed: {exc}") from exc
        db.session.commit()
    click.echo(f"{n} expired offers passed on.")


@bp.record_once
def _register_cli(state) -> None:
    state.app.cli.add_command(expire_offers_command)
