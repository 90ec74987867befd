"""Mailing pages (manager) and the public unsubscribe endpoints (signed links)."""
from __future__ import annotations

import json

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import format_number, get_locale
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from ...extensions import db
from ...mail.compose import InvalidMessage
from ...security import Role, public, roles_required
from ...timeutil import utcnow
from ...web import ConfirmForm, loads_bounded
from ..models import Member
from ..segments.models import Segment
from ..segments.rules import InvalidCriteria, criteria_from_dict
from ..segments.views import criteria_context
from . import services
from .forms import MailingForm
from .models import Mailing
from .rules import InvalidMailing, member_from_token

bp = Blueprint("mailings", __name__)


def _actor() -> str:
    return f"{current_user.role}:{current_user.email}"


def _form(**kwargs) -> MailingForm:
    form = MailingForm(**kwargs)
    segments = db.session.execute(select(Segment.id, Segment.name).order_by(Segment.name)).all()
    form.segment_id.choices = [("", _("— the selection from the segment editor —"))
                               if form.criteria.data else ("", "—")]
    form.segment_id.choices += [(str(i), name) for i, name in segments]
    return form


def _compose(mailing: Mailing | None):
    if mailing is not None and mailing.is_sent:
        flash(_("This mailing has been sent and cannot be changed."), "error")
        return redirect(url_for("mailings.show", mailing_id=mailing.id))
    if request.method == "GET":
        data: dict = {}
        if mailing is not None:
            data = {"segment_id": str(mailing.segment_id or ""), "subject": mailing.subject,
                    "body": mailing.body,
                    "criteria": "" if mailing.segment_id else json.dumps(mailing.criteria)}
        elif request.args.get("segment", "").isdigit():
            data = {"segment_id": request.args["segment"]}
        elif request.args.get("criteria"):
            data = {"criteria": request.args["criteria"]}
        form = _form(data=data)
    else:
        form = _form()
    adhoc = None
    if form.criteria.data and not form.segment_id.data:
        try:
            adhoc = criteria_from_dict(loads_bounded(form.criteria.data)).to_dict()
        except (ValueError, InvalidCriteria):
            flash(_("The selection from the segment editor cannot be read."), "error")
    status = 200
    if request.method == "POST":
        status = 400
        if form.validate_on_submit():
            segment, criteria = None, None
            try:
                if form.segment_id.data:
                    segment = db.session.get(Segment, int(form.segment_id.data))
                    if segment is None:
                        raise services.MailingError(_("The segment no longer exists."))
                elif form.criteria.data:
                    criteria = criteria_from_dict(loads_bounded(form.criteria.data))
                mailing = services.save_draft(
                    db.session, subject=form.subject.data, body=form.body.data,
                    segment=segment, criteria=criteria, mailing=mailing,
                    actor_user_id=current_user.id, actor=_actor(), now=utcnow())
            except services.MailingError as exc:
                flash(str(exc) if str(exc) != "Choose a segment." else _("Choose a segment."),
                      "error")
            except (InvalidMailing, InvalidCriteria, ValueError) as exc:
                flash(_("The mailing cannot be saved: %(reason)s", reason=str(exc)), "error")
            else:
                flash(_("Draft saved. Check the preview, send a test, then send it."), "success")
                return redirect(url_for("mailings.show", mailing_id=mailing.id))
    return render_template("community/mailings/edit.html", form=form, mailing=mailing,
                           adhoc=adhoc, **criteria_context()), status


@bp.route("/mailings")
@roles_required(Role.MANAGER)
def index():
    rows = db.session.scalars(select(Mailing).order_by(Mailing.created_at.desc(),
                                                       Mailing.id.desc()).limit(500)).all()
    return render_template("community/mailings/index.html", mailings=rows)


@bp.route("/mailings/new", methods=["GET", "POST"])
@roles_required(Role.MANAGER)
def new():
    return _compose(None)


def _mailing_or_404(mailing_id: int) -> Mailing:
    return db.session.get(Mailing, mailing_id) or abort(404)


@bp.route("/mailings/<int:mailing_id>/edit", methods=["GET", "POST"])
@roles_required(Role.MANAGER)
def edit(mailing_id: int):
    return _compose(_mailing_or_404(mailing_id))


@bp.route("/mailings/<int:mailing_id>")
@roles_required(Role.MANAGER)
def show(mailing_id: int):
    mailing = _mailing_or_404(mailing_id)
    counts, problem = None, None
    criteria = None
    try:
        criteria = services.mailing_criteria(mailing)
        if not mailing.is_sent:
            counts = services.audience(db.session, criteria, now=utcnow())
    except InvalidCriteria as exc:
        problem = str(exc)
    lang = str(get_locale() or current_app.config["BABEL_DEFAULT_LOCALE"])
    return render_template(
        "community/mailings/show.html", mailing=mailing, counts=counts, problem=problem,
        criteria=criteria.to_dict() if criteria is not None else mailing.criteria,
        html=services.preview_html(mailing, lang), confirm=ConfirmForm(),
        **criteria_context())


@bp.route("/mailings/<int:mailing_id>/test", methods=["POST"])
@roles_required(Role.MANAGER)
def send_test(mailing_id: int):
    mailing = _mailing_or_404(mailing_id)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    lang = str(current_user.locale or get_locale() or "de")
    try:
        services.send_test(db.session, mailing, to=current_user.email,
                           to_name=current_user.name or None, lang=lang,
                           member_id=current_user.member_id, now=utcnow())
    except InvalidMessage as exc:
        flash(_("The test could not be queued: %(reason)s", reason=str(exc)), "error")
        return redirect(url_for("mailings.show", mailing_id=mailing.id))
    flash(_("A test copy is queued for %(email)s.", email=current_user.email), "success")
    return redirect(url_for("mailings.show", mailing_id=mailing.id))


@bp.route("/mailings/<int:mailing_id>/send", methods=["GET"])
@roles_required(Role.MANAGER)
def confirm_send(mailing_id: int):
    """The confirmation step: names how many members will receive it now."""
    mailing = _mailing_or_404(mailing_id)
    if mailing.is_sent:
        return redirect(url_for("mailings.show", mailing_id=mailing.id))
    try:
        counts = services.audience(db.session, services.mailing_criteria(mailing), now=utcnow())
    except InvalidCriteria as exc:
        flash(_("Not sent: %(reason)s", reason=str(exc)), "error")
        return redirect(url_for("mailings.show", mailing_id=mailing.id))
    return render_template("community/mailings/confirm.html", mailing=mailing, counts=counts,
                           form=ConfirmForm())


@bp.route("/mailings/<int:mailing_id>/send", methods=["POST"])
@roles_required(Role.MANAGER)
def send(mailing_id: int):
    mailing = _mailing_or_404(mailing_id)
    confirmed = request.form.get("count", type=int)
    if not ConfirmForm().validate_on_submit() or confirmed is None:
        abort(400)
    try:
        result = services.send(db.session, mailing, actor=_actor(), now=utcnow(),
                               confirmed_recipients=confirmed)
    except services.RecipientsChanged as exc:
        db.session.rollback()
        flash(_("Not sent: the number of recipients changed from %(old)s to %(new)s. "
                "Check it and confirm again.", old=format_number(exc.confirmed),
                new=format_number(exc.now)), "error")
        return redirect(url_for("mailings.confirm_send", mailing_id=mailing_id))
    except services.MailingError as exc:
        db.session.rollback()
        flash(_("Not sent: %(reason)s", reason=str(exc)), "error")
        return redirect(url_for("mailings.show", mailing_id=mailing_id))
    except (InvalidCriteria, InvalidMessage) as exc:
        db.session.rollback()
        flash(_("Not sent: %(reason)s", reason=str(exc)), "error")
        return redirect(url_for("mailings.show", mailing_id=mailing_id))
    flash(_("Mailing queued for %(n)s members; skipped %(opted)s who unsubscribed and "
            "%(noemail)s without an e-mail address.", n=result.recipients,
            opted=result.opted_out, noemail=result.no_email), "success")
    return redirect(url_for("mailings.show", mailing_id=mailing_id))


@bp.route("/mailings/<int:mailing_id>/delete", methods=["POST"])
@roles_required(Role.MANAGER)
def delete(mailing_id: int):
    mailing = _mailing_or_404(mailing_id)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    try:
        services.delete_draft(db.session, mailing)
    except services.MailingError:
        flash(_("A sent mailing is kept as a record and cannot be deleted."), "error")
        return redirect(url_for("mailings.show", mailing_id=mailing_id))
    flash(_("Draft deleted."), "success")
    return redirect(url_for("mailings.index"))


# --- public: unsubscribe ----------------------------------------------------------------------

def _member_for(token: str) -> Member:
    member_id = member_from_token(current_app.config["SECRET_KEY"], token)
    member = db.session.get(Member, member_id) if member_id is not None else None
    if member is None:
        abort(404)
    return member


@bp.route("/unsubscribe/<token>", methods=["GET", "POST"])
@public
def unsubscribe(token: str):
    member = _member_for(token)
    form = ConfirmForm()
    if request.method == "POST":
        if not form.validate_on_submit():
            abort(400)
        if request.form.get("action") == "undo":
            services.opt_in(db.session, member, now=utcnow())
            flash(_("You will receive our mailings again."), "success")
        else:
            services.opt_out(db.session, member, how="link", now=utcnow())
            flash(_("You are unsubscribed. You will receive no more mailings."), "success")
        return redirect(url_for("mailings.unsubscribe", token=token))
    return render_template("community/mailings/unsubscribe.html", member=member, form=form,
                           token=token, invite_url=services.invite_opt_out_url(member.id))


@bp.route("/unsubscribe/<token>/one-click", methods=["GET", "POST"])
@public
def unsubscribe_one_click(token: str):
    """RFC 8058 one-click: the provider POSTs `List-Unsubscribe=One-Click` (CSRF-exempt)."""
    member = _member_for(token)
    if request.method == "GET":
        # Link scanners and some clients GET the header URL: never act on a GET.
        return redirect(url_for("mailings.unsubscribe", token=token))
    services.opt_out(db.session, member, how="one-click", now=utcnow())
    return _("You are unsubscribed. You will receive no more mailings."), 200, {
        "Content-Type": "text/plain; charset=utf-8"}


@bp.route("/invitations/opt-out/<token>", methods=["GET", "POST"])
@public
def invite_opt_out(token: str):
    """A member's own page to stop or resume event invitations (not mailings)."""
    member_id = member_from_token(current_app.config["SECRET_KEY"], token, "invite-opt-out")
    member = db.session.get(Member, member_id) if member_id is not None else None
    if member is None:
        abort(404)
    form = ConfirmForm()
    if request.method == "POST":
        if not form.validate_on_submit():
            abort(400)
        stop = request.form.get("action") != "undo"
        services.set_opt_out(db.session, member, "invitations", stop, via="link",
                             actor=f"member:{member.id}", now=utcnow())
        flash(_("You will receive no more invitations to events.") if stop else
              _("You will receive invitations to events again."), "success")
        return redirect(url_for("mailings.invite_opt_out", token=token))
    return render_template("community/mailings/invite_opt_out.html", member=member, form=form)


@bp.route("/members/<int:member_id>/opt-outs", methods=["POST"])
@roles_required(Role.MANAGER)
def member_opt_outs(member_id: int):
    """A manager records a member's wish (by phone, in person): audited with their name."""
    member = db.session.get(Member, member_id) or abort(404)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    changed = False
    for kind in services.OPT_OUT_FIELDS:
        changed |= services.set_opt_out(db.session, member, kind,
                                        request.form.get(kind) == "out", via="manager",
                                        now=utcnow())
    flash(_("Mail preferences saved.") if changed else _("Nothing changed."), "success")
    return redirect(url_for("members.profile", member_id=member.id) + "#mail-prefs")
