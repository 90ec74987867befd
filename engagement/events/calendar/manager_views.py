"""Manager pages for calendar replies: the event's reply log and a member's delegates."""
from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import StringField
from wtforms.validators import DataRequired, Length, Optional

from ...community.models import Member
from ...db import paginate
from ...extensions import db
from ...security import Role, roles_required
from ...timeutil import utcnow
from ...web import ConfirmForm, page_arg
from ..blueprint import bp, event_or_404
from . import delegates, inbound

PER_PAGE = 50
RESULTS = (inbound.APPLIED, inbound.IGNORED)


class DelegateForm(FlaskForm):
    email = StringField(_l("E-mail address of the delegate"),
                        validators=[DataRequired(), Length(max=255)])
    note = StringField(_l("Note (who this is)"), validators=[Optional(), Length(max=200)])


@bp.route("/events/<int:event_id>/replies")
@roles_required(Role.MANAGER)
def calendar_replies(event_id: int):
    """Every calendar reply read for the event: applied or ignored, and why."""
    event = event_or_404(event_id)
    result = request.args.get("result")
    result = result if result in RESULTS else None
    rows = paginate(db.session, inbound.reply_log_query(event.id, result), page=page_arg(),
                    per_page=PER_PAGE)
    return render_template("events/calendar/replies.html", event=event, rows=rows.items,
                           result=result, page=rows.page, pages=rows.pages, total=rows.total)


def _member_or_404(member_id: int) -> Member:
    member = db.session.get(Member, member_id)
    if member is None:
        abort(404)
    return member


def _render_delegates(member: Member, form: DelegateForm, status: int = 200):
    return render_template("events/calendar/delegates.html", member=member, form=form,
                           rows=delegates.for_member(db.session, member.id),
                           confirm=ConfirmForm()), status


@bp.route("/members/<int:member_id>/calendar-delegates", methods=["GET", "POST"])
@roles_required(Role.MANAGER)
def calendar_delegates(member_id: int):
    """Addresses that may answer the member's invitations from a calendar (SENT-BY)."""
    member = _member_or_404(member_id)
    form = DelegateForm()
    if not form.validate_on_submit():
        return _render_delegates(member, form, 422 if request.method == "POST" else 200)
    try:
        row = delegates.add_delegate(db.session, member.id, form.email.data, now=utcnow(),
                                     note=form.note.data or "", user_id=current_user.id)
    except delegates.DelegateError as exc:
        form.email.errors = [_("This address is already a delegate.") if exc.code == "duplicate"
                             else _("Enter an e-mail address.")]
        return _render_delegates(member, form, 422)
    flash(_("%(email)s may now answer calendar invitations for %(name)s.", email=row.email,
            name=member.display_name), "success")
    return redirect(url_for("events.calendar_delegates", member_id=member.id))


@bp.route("/members/<int:member_id>/calendar-delegates/<int:delegate_id>/remove",
          methods=["POST"])
@roles_required(Role.MANAGER)
def remove_calendar_delegate(member_id: int, delegate_id: int):
    member = _member_or_404(member_id)
    row = db.session.get(delegates.CalendarDelegate, delegate_id)
    if row is None or row.member_id != member.id:
        abort(404)
    if ConfirmForm().validate_on_submit():
        delegates.remove_delegate(db.session, row, now=utcnow())
        flash(_("%(email)s can no longer answer for %(name)s.", email=row.email,
                name=member.display_name), "success")
    return redirect(url_for("events.calendar_delegates", member_id=member.id))
