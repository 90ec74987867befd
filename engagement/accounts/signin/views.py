"""Sign-in by e-mail link for members: request, confirm (POST, so mail scanners cannot burn
the link by prefetching it) and sign in. Routes live on the `accounts` blueprint."""
from __future__ import annotations

from flask import current_app, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_user
from flask_wtf import FlaskForm
from wtforms import EmailField
from wtforms.validators import DataRequired, Length

from ...extensions import db
from ...security import public
from ...timeutil import utcnow
from ...web import ConfirmForm
from ..blueprint import bp, home_for
from . import links as magic


class MagicLinkForm(FlaskForm):
    email = EmailField(_l("E-mail"), validators=[DataRequired(), Length(max=255)])


def _base_url() -> str:
    return (current_app.config["BASE_URL"] or request.host_url).rstrip("/")


@bp.route("/login/link", methods=["GET", "POST"])
@public
def magic_request():
    form = MagicLinkForm()
    if form.validate_on_submit():
        magic.request_link(
            db.session, form.email.data, ip=request.remote_addr or "?", now=utcnow(),
            minutes=int(current_app.config["MAGIC_LINK_MINUTES"]),
            quota=magic.quota_from_config(), base_url=_base_url())
        # The same answer whoever asked: the page must not tell which addresses are members.
        return render_template("accounts/magic_sent.html")
    status = 422 if request.method == "POST" else 200
    return render_template("accounts/magic_request.html", form=form), status


_INVALID_STATUS = {"unknown": 404, "expired": 410, "used": 410, "refused": 403}


def _invalid(state: str):
    return render_template("accounts/magic_invalid.html", state=state,
                           form=MagicLinkForm(formdata=None)), _INVALID_STATUS[state]


@bp.route("/login/link/<token>", methods=["GET", "POST"])
@public
def magic_confirm(token: str):
    form = ConfirmForm()
    if request.method == "GET":
        try:
            link = magic.check_link(db.session, token, utcnow())
        except magic.LinkInvalid as exc:
            return _invalid(exc.state)
        return render_template("accounts/magic_confirm.html", form=form, email=link.email)
    if not form.validate_on_submit():
        flash(_("The form expired. Please press the button again."), "error")
        return redirect(url_for("accounts.magic_confirm", token=token))
    try:
        user = magic.consume_link(db.session, token, utcnow())
    except magic.LinkInvalid as exc:
        return _invalid(exc.state)
    if current_user.is_authenticated and current_user.id != user.id:
        session.clear()  # never carry one person's session state into another's
    login_user(user)
    session["lang"] = user.locale or session.get("lang")
    flash(_("You are signed in."), "success")
    return redirect(url_for("events.my_invitations") if user.member_id else home_for(user))
