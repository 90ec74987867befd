"""The member's own agreements and consents: accept versioned agreements, withdraw consents.

Withdrawing is possible at any time, after an event's RSVP deadline too (Art. 7(3) GDPR).
"""
from __future__ import annotations

from flask import abort, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from ..events.models import Invitation
from ..events.rsvp import consents as event_consents
from ..extensions import db
from ..formatting import dt
from ..security import Role, roles_required
from ..timeutil import utcnow
from ..web import ConfirmForm
from . import agreements, bp

REFUSALS = {
    "not_current": _l("A newer version of this agreement exists; please read and accept "
                      "that one."),
    "already_accepted": _l("You have already accepted this version."),
    "not_withdrawable": _l("This agreement cannot be withdrawn here; please contact the "
                           "programme team."),
    "already_withdrawn": _l("You have already withdrawn this."),
}


def _member_id() -> int:
    member_id = getattr(current_user, "member_id", None)
    if member_id is None:
        abort(404)
    return member_id


@bp.route("/me/agreements")
@roles_required(Role.MEMBER)
def my_agreements():
    member_id = _member_id()
    return render_template(
        "records/my_agreements.html",
        agreements=agreements.member_overview(db.session, member_id),
        consents=event_consents.member_consents(db.session, member_id),
        form=ConfirmForm(), states=agreements.AgreementState)


@bp.route("/me/agreements/<int:agreement_id>/accept", methods=["POST"])
@roles_required(Role.MEMBER)
def my_agreement_accept(agreement_id: int):
    member_id = _member_id()
    if not ConfirmForm().validate_on_submit():
        abort(400)
    try:
        row = agreements.accept(db.session, member_id, agreement_id, source="member page",
                                now=utcnow())
    except LookupError:
        abort(404)
    except agreements.AgreementRefused as exc:
        flash(str(REFUSALS[str(exc)]), "error")
    else:
        flash(_("Thank you: your acceptance is recorded (%(when)s).",
                when=dt(row.accepted_at, "d MMM y, HH:mm")), "success")
    return redirect(url_for("records.my_agreements"))


@bp.route("/me/agreements/<int:agreement_id>/withdraw", methods=["POST"])
@roles_required(Role.MEMBER)
def my_agreement_withdraw(agreement_id: int):
    member_id = _member_id()
    if not ConfirmForm().validate_on_submit():
        abort(400)
    try:
        agreements.withdraw(db.session, member_id, agreement_id, now=utcnow())
    except LookupError:
        abort(404)
    except agreements.AgreementRefused as exc:
        flash(str(REFUSALS[str(exc)]), "error")
    else:
        flash(_("Withdrawn. This applies from now on; what was done before stays lawful."),
              "success")
    return redirect(url_for("records.my_agreements"))


@bp.route("/me/consents/<int:invitation_id>/<key>/withdraw", methods=["POST"])
@roles_required(Role.MEMBER)
def my_consent_withdraw(invitation_id: int, key: str):
    member_id = _member_id()
    if not ConfirmForm().validate_on_submit():
        abort(400)
    invitation = db.session.get(Invitation, invitation_id)
    if invitation is None or invitation.member_id != member_id:
        abort(404)
    try:
        event_consents.withdraw_consent(db.session, invitation, key, now=utcnow())
    except event_consents.NothingToWithdraw:
        flash(str(REFUSALS["already_withdrawn"]), "error")
    else:
        flash(_("Withdrawn. This applies from now on; what was done before stays lawful."),
              "success")
    return redirect(url_for("records.my_agreements") + "#consents")
