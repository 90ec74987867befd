"""Login, logout, language switch, user administration and API tokens."""
from __future__ import annotations

from datetime import timedelta

from flask import (
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user, login_required, login_user, logout_user
from sqlalchemy import func, select

from ..extensions import db
from ..security import Role, public, roles_required
from ..timeutil import utcnow
from ..web import ConfirmForm
from . import services
from .blueprint import bp, home_for, safe_next
from .forms import LoginForm, TokenForm, UserForm
from .models import ApiToken, User, parse_session_id
from .rules import LoginThrottled, Throttle
from .signin import device as login_device


def load_user(cookie_id: str) -> User | None:
    """The signed-in user of a session or remember cookie (Flask-Login's user loader).

    The id carries the session version it was issued with: after a logout, a new password,
    a role change or deactivation the version moved on and the old cookie opens nothing.
    """
    parsed = parse_session_id(cookie_id)
    if parsed is None:
        return None
    user_id, version = parsed
    user = db.session.get(User, user_id)
    if user is None or not user.active or user.session_version != version:
        return None
    return user


def _throttle() -> Throttle:
    cfg = current_app.config
    return Throttle(cfg["LOGIN_MAX_FAILURES"], cfg["LOGIN_MAX_FAILURES_PER_IP"],
                    timedelta(seconds=cfg["LOGIN_WINDOW_SECONDS"]))


@bp.route("/")
@public
def index():
    if current_user.is_authenticated:
        return redirect(home_for(current_user))
    return redirect(url_for("accounts.login"))


@bp.route("/login", methods=["GET", "POST"])
@public
def login():
    form = LoginForm()
    status = 200
    if form.validate_on_submit():
        email = services.normalise_email(form.email.data)
        device = login_device.device_for(request.cookies.get(login_device.COOKIE), email)
        try:
            # remote_addr is the client's: ProxyFix rewrites it for TRUSTED_PROXIES proxies.
            user = services.authenticate(db.session, email, form.password.data,
                                         request.remote_addr or "?", utcnow(), _throttle(),
                                         device=device)
        except LoginThrottled as exc:
            db.session.commit()
            minutes = max(1, round(exc.retry_after / 60))
            flash(_("Too many failed sign-in attempts. Try again in %(n)s minutes.", n=minutes),
                  "error")
            return render_template("accounts/login.html", form=form), 429
        db.session.commit()  # the attempt counts even when the password was wrong
        if user is not None:
            login_user(user, remember=form.remember.data)
            session["lang"] = user.locale or session.get("lang")
            response = redirect(safe_next(request.args.get("next")) or home_for(user))
            if device is None:
                login_device.issue(response, user.email)
            return response
        flash(_("E-mail or password is wrong."), "error")
        status = 401
    return render_template("accounts/login.html", form=form), status


@bp.route("/logout", methods=["POST"])
@login_required
@roles_required(*Role)
def logout():
    if ConfirmForm().validate_on_submit():
        # Signing out ends every session of this user, including copied cookies.
        services.end_sessions(current_user)
        logout_user()
        flash(_("You are signed out."), "info")
    return redirect(url_for("accounts.login"))


@bp.route("/language/<lang>", methods=["POST"])
@public
def set_language(lang: str):
    if lang not in current_app.config["LANGUAGES"] or not ConfirmForm().validate_on_submit():
        abort(400)
    session["lang"] = lang
    if current_user.is_authenticated:
        current_user.locale = lang
    return redirect(safe_next(request.form.get("next")) or url_for("accounts.index"))


@bp.route("/admin/users")
@roles_required(Role.ADMIN)
def users():
    rows = db.session.scalars(select(User).order_by(User.role, User.email)).all()
    token_counts = dict(db.session.execute(
        select(ApiToken.user_id, func.count()).where(ApiToken.revoked_at.is_(None))
        .group_by(ApiToken.user_id)).all())
    return render_template("accounts/users.html", users=rows, token_counts=token_counts,
                           form=UserForm(formdata=None, active=True))


@bp.route("/admin/users/new", methods=["POST"])
@roles_required(Role.ADMIN)
def create_user():
    form = UserForm()
    if form.validate_on_submit():
        email = services.normalise_email(form.email.data)
        if db.session.scalar(select(User).where(User.email == email)):
            flash(_("A user with this e-mail exists already."), "error")
            return redirect(url_for("accounts.users"))
        try:
            user, _created = services.save_user(
                db.session, form.email.data, form.role.data, name=form.name.data or "",
                password=form.password.data or None, active=form.active.data,
                member_id=form.member_id.data, locale=form.locale.data)
        except services.AccountError as exc:
            flash(str(exc), "error")
            return redirect(url_for("accounts.users"))
        flash(_("User %(email)s created.", email=user.email), "success")
        return redirect(url_for("accounts.edit_user", user_id=user.id))
    for field, errors in form.errors.items():
        flash(f"{getattr(form, field).label.text}: {'; '.join(errors)}", "error")
    return redirect(url_for("accounts.users"))


@bp.route("/admin/users/<int:user_id>", methods=["GET", "POST"])
@roles_required(Role.ADMIN)
def edit_user(user_id: int):
    user = db.session.get(User, user_id) or abort(404)
    form = UserForm(obj=user)
    if form.validate_on_submit():
        if user.id == current_user.id and (form.role.data != Role.ADMIN or not form.active.data):
            flash(_("You cannot remove your own admin role or deactivate yourself."), "error")
        else:
            try:
                services.save_user(
                    db.session, user.email, form.role.data, name=form.name.data or "",
                    password=form.password.data or None, active=form.active.data,
                    member_id=form.member_id.data, locale=form.locale.data)
                if user.id == current_user.id:  # keep this session; the others end
                    login_user(user, remember=bool(request.cookies.get(
                        current_app.config.get("REMEMBER_COOKIE_NAME", "remember_token"))))
                flash(_("Saved."), "success")
                return redirect(url_for("accounts.edit_user", user_id=user.id))
            except services.AccountError as exc:
                flash(str(exc), "error")
    tokens = db.session.scalars(
        select(ApiToken).where(ApiToken.user_id == user.id).order_by(ApiToken.created_at.desc())
    ).all()
    return render_template("accounts/user_edit.html", user=user, form=form, tokens=tokens,
                           confirm=ConfirmForm())


@bp.route("/account/tokens", methods=["GET", "POST"])
@roles_required(Role.ADMIN, Role.MANAGER, Role.HR)
def tokens():
    form = TokenForm()
    new_token = None
    if form.validate_on_submit():
        _token, new_token = services.create_token(db.session, current_user, form.name.data)
        flash(_("Token created. Copy it now: it is shown only once."), "success")
    rows = db.session.scalars(
        select(ApiToken).where(ApiToken.user_id == current_user.id)
        .order_by(ApiToken.created_at.desc())
    ).all()
    return render_template("accounts/tokens.html", form=form, tokens=rows, new_token=new_token,
                           confirm=ConfirmForm())


@bp.route("/account/tokens/<int:token_id>/revoke", methods=["POST"])
@roles_required(Role.ADMIN, Role.MANAGER, Role.HR)
def revoke_token(token_id: int):
    token = db.session.get(ApiToken, token_id) or abort(404)
    # Admins may revoke anyone's token; others only their own.
    if token.user_id != current_user.id and current_user.role != Role.ADMIN:
        abort(403)
    if ConfirmForm().validate_on_submit():
        services.revoke_token(db.session, token, utcnow())
        flash(_("Token %(prefix)s… revoked.", prefix=token.prefix), "success")
    back = safe_next(request.form.get("next"))
    return redirect(back or url_for("accounts.tokens"))
