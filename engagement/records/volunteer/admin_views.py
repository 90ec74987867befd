"""Manager pages for volunteer records: roles at an event, agreement versions, acceptances."""
from __future__ import annotations

from flask import abort, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from sqlalchemy import select
from wtforms import (
    BooleanField,
    DecimalField,
    IntegerField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange

from ...community.members.services import display_names, get_member
from ...events.models import Event
from ...extensions import db
from ...security import Role, roles_required
from ...timeutil import utcnow
from ...web import ConfirmForm
from .. import bp
from ..models import Agreement, EventRole
from ..rules import EventRoleKind
from . import services

ROLE_LABELS = {EventRoleKind.SPEAKER: _l("Speaker"), EventRoleKind.HELPER: _l("Helper"),
               EventRoleKind.ORGANISER: _l("Organiser"), EventRoleKind.OTHER: _l("Other")}


class RoleForm(FlaskForm):
    member_id = IntegerField(_l("Member id"), validators=[InputRequired(),
                                                          NumberRange(min=1)])
    role = SelectField(_l("Role"), choices=[(k.value, v) for k, v in ROLE_LABELS.items()])
    hours = DecimalField(_l("Hours"), places=2,
                         validators=[InputRequired(), NumberRange(min=0, max=999)])
    note = StringField(_l("Note"), validators=[Length(max=2000)])


class AgreementForm(FlaskForm):
    key = StringField(_l("Key"), validators=[DataRequired(), Length(max=64)])
    title = StringField(_l("Title"), validators=[DataRequired(), Length(max=200)])
    text = TextAreaField(_l("Text"), validators=[DataRequired()])
    withdrawable = BooleanField(_l("A consent members may withdraw at any time"))


class AcceptanceForm(FlaskForm):
    member_id = IntegerField(_l("Member id"), validators=[InputRequired(),
                                                          NumberRange(min=1)])
    agreement_id = SelectField(_l("Agreement version"), coerce=int, choices=[])
    source = StringField(_l("Source (e.g. paper form)"), validators=[Length(max=64)])


@bp.app_context_processor
def record_role_labels():
    return {"record_role_labels": ROLE_LABELS}


def _event_or_404(event_id: int) -> Event:
    event = db.session.get(Event, event_id)
    if event is None:
        abort(404)
    return event


def _render_roles(event: Event, form: RoleForm):
    roles = db.session.scalars(
        select(EventRole).where(EventRole.event_id == event.id).order_by(EventRole.id)).all()
    names = display_names(db.session, {r.member_id for r in roles})
    rows = [(r, names[r.member_id]) for r in roles if r.member_id in names]
    return render_template("records/volunteer_roles.html", event=event, rows=rows, form=form,
                           delete_form=ConfirmForm())


@bp.route("/records/events/<int:event_id>/roles", methods=["GET", "POST"])
@roles_required(Role.MANAGER)
def volunteer_roles(event_id: int):
    event = _event_or_404(event_id)
    form = RoleForm()
    if form.validate_on_submit():
        if get_member(db.session, form.member_id.data) is None:
            form.member_id.errors.append(_("No member with this id."))
        else:
            services.add_role(db.session, event_id=event.id, member_id=form.member_id.data,
                              role=form.role.data, hours=form.hours.data,
                              note=form.note.data or "")
            flash(_("Role saved."), "success")
            return redirect(url_for("records.volunteer_roles", event_id=event.id))
    return _render_roles(event, form), (400 if form.errors else 200)


@bp.route("/records/events/<int:event_id>/roles/<int:role_id>/delete", methods=["POST"])
@roles_required(Role.MANAGER)
def volunteer_role_delete(event_id: int, role_id: int):
    row = db.session.get(EventRole, role_id)
    if row is None or row.event_id != event_id:
        abort(404)
    if ConfirmForm().validate_on_submit():
        services.remove_role(db.session, row)
        flash(_("Role removed."), "success")
    return redirect(url_for("records.volunteer_roles", event_id=event_id))


def _acceptance_form() -> AcceptanceForm:
    form = AcceptanceForm(prefix="accept")
    form.agreement_id.choices = [
        (a.id, f"{a.title} ({a.key} v{a.version})") for a in db.session.scalars(
            select(Agreement).order_by(Agreement.key, Agreement.version.desc()))]
    return form


def _render_agreements(form: AgreementForm, accept: AcceptanceForm, status: int = 200):
    rows = db.session.scalars(select(Agreement).order_by(Agreement.key,
                                                         Agreement.version.desc())).all()
    return render_template("records/volunteer_agreements.html", rows=rows, form=form,
                           accept=accept), status


@bp.route("/records/agreements", methods=["GET", "POST"])
@roles_required(Role.MANAGER)
def volunteer_agreements():
    form = AgreementForm(prefix="new")
    if form.validate_on_submit():
        try:
            row = services.create_agreement_version(
                db.session, key=form.key.data, title=form.title.data, text=form.text.data,
                now=utcnow(), withdrawable=bool(form.withdrawable.data))
        except services.RecordError:
            form.key.errors.append(_("Please fill in key, title and text."))
        else:
            flash(_("Version %(v)s of “%(key)s” saved.", v=row.version, key=row.key),
                  "success")
            return redirect(url_for("records.volunteer_agreements"))
    return _render_agreements(form, _acceptance_form(), 400 if form.errors else 200)


@bp.route("/records/agreements/accept", methods=["POST"])
@roles_required(Role.MANAGER)
def volunteer_acceptance():
    accept = _acceptance_form()
    if accept.validate_on_submit():
        if get_member(db.session, accept.member_id.data) is None:
            accept.member_id.errors.append(_("No member with this id."))
        else:
            services.record_acceptance(
                db.session, member_id=accept.member_id.data,
                agreement_id=accept.agreement_id.data,
                source=accept.source.data or "manager", now=utcnow())
            flash(_("Acceptance recorded."), "success")
            return redirect(url_for("records.volunteer_agreements"))
    return _render_agreements(AgreementForm(prefix="new", formdata=None), accept, 400)
