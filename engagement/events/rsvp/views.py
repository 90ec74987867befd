"""RSVP pages of the invitee: the answer form on the invitation link and the closed page.

Routes live on the events blueprint; the manager's RSVP tools are in manager_views.py.
"""
from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from ...community.members.services import display_names
from ...extensions import db
from ...security import public
from ...timeutil import utcnow
from ...web import ConfirmForm
from .. import notifications
from ..blueprint import bp, invitation_from_token
from ..models import Event, EventStatus, Invitation, InvitationStatus
from . import consents as consent_services
from . import rules
from . import services as rsvp
from .forms import RsvpForm


def _error_texts(errors: dict[str, str], event: Event) -> list[str]:
    labels = {f"q{q.id}": q.label for q in event.questions}
    texts = []
    for key, code in errors.items():
        if key.startswith("consent:"):
            texts.append(_("Please agree to the consent marked as required."))
        elif key.startswith("agreement:"):
            texts.append(_("Please accept the agreement to attend."))
        elif code == "required":
            texts.append(_("Please answer: %(q)s", q=labels.get(key, key)))
        elif code == "invalid_choice":
            texts.append(_("Pick one of the offered answers: %(q)s", q=labels.get(key, key)))
        else:
            texts.append(_("The answer is too long: %(q)s", q=labels.get(key, key)))
    return texts


def agreement_and_withdrawals(event: Event) -> dict:
    """For the manager's event page: the required agreement and the consents withdrawn."""
    rows = consent_services.withdrawals(db.session, event.id)
    names = display_names(db.session, {m for _c, m in rows})
    return {"required_agreement": rsvp.required_agreement(db.session, event),
            "withdrawals": [(c, names.get(m, f"#{m}")) for c, m in rows]}


def _form_answer(status: InvitationStatus) -> str | None:
    """The answer preselected on the form: the given one (waiting for a seat = yes)."""
    current = str(status)
    if current == InvitationStatus.WAITLISTED:
        return rules.RsvpStatus.ACCEPTED.value
    return current if current in set(rules.RsvpStatus) else None


def _open_answers(invitation: Invitation, event: Event, now) -> tuple[str, ...]:
    if event.status != EventStatus.PUBLISHED or invitation.status == InvitationStatus.CANCELLED:
        return ()
    return tuple(a.value for a in rules.open_answers(
        old=invitation.status,
        closed=rules.is_closed(deadline=event.rsvp_deadline, starts_at=event.starts_at,
                               now=now),
        started=rules.has_started(starts_at=event.starts_at, now=now),
        offer_held=invitation.offer_expires_at is not None and invitation.offer_expires_at > now,
        action_needed=invitation.action_needed_until is not None
        and invitation.action_needed_until > now))


def render_invitation(invitation: Invitation, token: str, *, form: RsvpForm | None = None,
                      errors: list[str] | None = None, status: int = 200):
    """The invitation page: details and the answer form with the answers still open (after
    the deadline: cancel, or take an offered seat), or the closed page once none is."""
    event = invitation.event
    now = utcnow()
    if event.status == EventStatus.PUBLISHED and rsvp.expire_event_offers(
            db.session, event.id, now=now):
        db.session.refresh(invitation)
    closed = rules.is_closed(deadline=event.rsvp_deadline, starts_at=event.starts_at, now=now)
    choices = _open_answers(invitation, event, now)
    consents = rsvp.event_consents(db.session, event.id)
    given = {k: c.given and c.version == next((d.version for d in consents if d.key == k), 0)
             for k, c in rsvp.current_consents(db.session, invitation.id).items()}
    if form is None:
        form = RsvpForm(formdata=None)
        # A one-tap link from the mail (?answer=accepted) preselects; it never answers.
        wanted = request.args.get("answer")
        form.status.data = wanted if wanted in choices else _form_answer(invitation.status)
        form.plus_one.data = bool(invitation.plus_one)
    form.status.choices = [c for c in form.status.choices if c[0] in choices]
    answers = invitation.answers or {}
    if request.method == "POST":
        answers = {k[1:]: v for k, v in request.form.items() if k.startswith("q")}
        given = {c.key: request.form.get(f"consent_{c.key}") == "1" for c in consents}
    template = ("events/rsvp_closed.html"
                if not choices and closed and event.status != EventStatus.CANCELLED
                else "events/invitation.html")
    offer_open = (invitation.status == InvitationStatus.WAITLISTED
                  and invitation.offer_expires_at is not None
                  and invitation.offer_expires_at > now)
    required = rsvp.required_agreement(db.session, event)
    return render_template(
        template, invitation=invitation, event=event, token=token, form=form,
        required_agreement=required,
        agreement_accepted=required is not None and consent_services.agreement_accepted(
            db.session, invitation.member_id, required),
        agreement_ticked=request.method == "POST" and request.form.get("agreement") == "1",
        withdraw_form=ConfirmForm(),
        given_consents=[c for c in consent_services.current_consents(
            db.session, invitation.id).values() if c.given],
        consents=consents, given=given, answers=answers, errors=errors or [],
        offer_open=offer_open, google_url=notifications.google_link(event),
        closed=closed, only_cancel=closed and choices == ("declined",),
        started=rules.has_started(starts_at=event.starts_at, now=now),
        preselected=request.args.get("answer") in choices,
        missing=_missing_texts(invitation, event) if invitation.action_needed_until else [],
        consent_title=_consent_title,
        rsvp_open=bool(choices)), status


@bp.route("/i/<token>/consents/<key>")
@public
def consent_text(token: str, key: str):
    """The full text of one of the event's consents (the version the form asks for)."""
    invitation, status = invitation_from_token(token)
    if invitation is None:
        return render_template("events/invitation_invalid.html", reason=status), status
    consent = next((c for c in rsvp.event_consents(db.session, invitation.event_id)
                    if c.key == key), None)
    if consent is None:
        abort(404)
    return render_template("events/consent_text.html", invitation=invitation,
                           event=invitation.event, consent=consent, token=token)


@bp.route("/i/<token>/rsvp", methods=["POST"])
@public
def rsvp_submit(token: str):
    invitation, status = invitation_from_token(token)
    if invitation is None:
        return render_template("events/invitation_invalid.html", reason=status), status
    form = RsvpForm()
    # Validated against every answer; `respond` decides which one is still open.
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
                              actor=f"invitee:{invitation.member_id}",
                              agreement=request.form.get("agreement") == "1")
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
    if result.status == InvitationStatus.ACCEPTED and result.action_needed_until:
        return _("Your seat is held, but some answers are still missing: please complete "
                 "them below.")
    if result.status == InvitationStatus.ACCEPTED:
        return _("Thank you, your place is confirmed. A confirmation is on its way by e-mail.")
    if result.status == InvitationStatus.WAITLISTED:
        return _("The event is fully booked: you are on the waiting list at position %(n)s.",
                 n=result.waitlist_position)
    if result.status == InvitationStatus.TENTATIVE:
        return _("Noted as maybe. Tentative answers do not hold a seat.")
    return _("Noted: you will not attend. You can change your answer until the deadline.")


def _missing_texts(invitation: Invitation, event: Event) -> list[str]:
    """The required answers and consents a held seat still misses, by their labels."""
    consents = {c.key: c for c in rsvp.event_consents(db.session, event.id)}
    latest = rsvp.current_consents(db.session, invitation.id)
    out = [q.label for q in event.questions
           if q.required and not str((invitation.answers or {}).get(str(q.id), "")).strip()]
    out += [_consent_title(c.text) for k, c in consents.items() if c.required and not (
        latest.get(k) and latest[k].given and latest[k].version == c.version)]
    return out


def _consent_title(text: str, limit: int = 80) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit].rsplit(" ", 1)[0] + " …"
@bp.route("/i/<token>/consents/<key>/withdraw", methods=["POST"])
@public
def consent_withdraw(token: str, key: str):
    """Withdraw a consent from the invitation link: at any time, after the deadline and the
    event too (Art. 7(3) GDPR: as easy as giving it)."""
    invitation, status = invitation_from_token(token)
    if invitation is None:
        return render_template("events/invitation_invalid.html", reason=status), status
    if not ConfirmForm().validate_on_submit():
        abort(400)
    try:
        consent_services.withdraw_consent(db.session, invitation, key, now=utcnow(),
                                          actor=f"invitee:{invitation.member_id}")
    except consent_services.NothingToWithdraw:
        flash(_("There is no consent given to withdraw."), "error")
    else:
        flash(_("Your consent is withdrawn. This applies from now on."), "success")
    return redirect(url_for("events.invitation_page", token=token))
