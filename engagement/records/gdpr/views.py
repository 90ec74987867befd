"""Views: a member downloads their data; HR exports or erases a member's data."""
from __future__ import annotations

import json

from flask import Response, abort, current_app, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import StringField

from ...community.erasure import erasure_key
from ...community.members.services import get_member
from ...extensions import db
from ...security import Role, roles_required
from ...timeutil import utcnow
from .. import bp
from . import page as gdpr_page
from .services import ERASED_PREFIX, NotFound, erase_member, export_member


class EraseForm(FlaskForm):
    confirm_name = StringField(_l("Type the member's display name to confirm"))


def _export(member_id: int) -> dict:
    try:
        data = export_member(db.session, member_id)
    except NotFound:
        abort(404)
    return {"exported_at": utcnow().isoformat(), "member_id": member_id, **data}


def _download(member_id: int) -> Response:
    data = _export(member_id)
    body = json.dumps(data, indent=2, ensure_ascii=False, default=str)
    name = f"member-{member_id}-data.json"
    return Response(body, mimetype="application/json", headers={
        "Content-Disposition": f'attachment; filename="{name}"',
        "Cache-Control": "no-store",
    })


def _own_member_id() -> int:
    member_id = getattr(current_user, "member_id", None)
    if member_id is None:
        abort(404)
    return member_id


@bp.route("/me/data")
@roles_required(Role.MEMBER)
def my_data():
    """The member's data as a readable page (the same content as the JSON download)."""
    data = _export(_own_member_id())
    return render_template("records/my_data.html", data=data,
                           sections=gdpr_page.sections(data))


@bp.route("/me/data.json")
@roles_required(Role.MEMBER)
def my_data_json():
    return _download(_own_member_id())


@bp.route("/records/members/<int:member_id>/export")
@roles_required(Role.HR)
def export(member_id: int):
    return _download(member_id)


@bp.route("/records/members/<int:member_id>/erase", methods=["GET", "POST"])
@roles_required(Role.HR)
def erase(member_id: int):
    member = get_member(db.session, member_id)
    if member is None:
        abort(404)
    erased = member.external_id.startswith(ERASED_PREFIX)
    form = EraseForm()
    if not erased and form.validate_on_submit():
        if (form.confirm_name.data or "").strip() != member.display_name:
            form.confirm_name.errors.append(_("The name does not match."))
        else:
            key = erasure_key(current_app.config)
            erase_member(db.session, member_id, key=key, now=utcnow(),
                         zone=current_app.config["DEFAULT_TIMEZONE"])
            flash(_("The member's personal data was erased."), "success")
            return redirect(url_for("records.erase", member_id=member_id))
    return render_template("records/erase.html", member=member, form=form, erased=erased)
