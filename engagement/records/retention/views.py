"""The retention page (HR, admin): periods with their source, what goes when, and changes."""
from __future__ import annotations

from datetime import timedelta

from flask import current_app, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import IntegerField, SelectField, StringField
from wtforms.validators import InputRequired, Length

from ...extensions import db
from ...security import Role, current_role, roles_required
from ...timeutil import utcnow
from .. import bp
from . import services as retention
from .rules import RULES, InvalidPeriod, Kind

# What each kind is, and from when its period counts.
KIND_LABELS = {
    Kind.RSVP_ANSWERS: (_l("RSVP answers"), _l("after the event ended"),
                        _l("Answers to an event's questions (diet, accessibility, free text) "
                           "are cleared, also in the audit trail; attendance stays.")),
    Kind.OUTBOX_BODIES: (_l("Sent mail bodies"), _l("after sending"),
                         _l("The text and attachments of sent mail (and its file) are "
                            "removed; recipient, subject and send time stay as the "
                            "delivery record.")),
    Kind.LOGIN_ATTEMPTS: (_l("Login attempts"), _l("after the attempt"),
                          _l("Address, client address and outcome of password sign-ins are "
                             "deleted.")),
    Kind.SIGNIN_LINKS: (_l("Sign-in links"), _l("after the link expired"),
                        _l("Sign-in links sent to members (address, client address), used "
                           "or not, are deleted.")),
    Kind.UPLOADS: (_l("Import uploads"), _l("after the import run"),
                   _l("Uploaded community exports (every member's name and address) are "
                      "deleted.")),
    Kind.TAX_NAMES: (_l("Names of erased gift recipients"),
                     _l("after the end of the year of the last gift"),
                     _l("Kept, restricted (Art. 18 GDPR), for the gift listing and shown "
                        "to HR only; managers see the pseudonym. A change applies to "
                        "erasures from then on.")),
}
UNIT_LABELS = {"days": _l("days"), "years": _l("years")}


def kept_for(period) -> str:
    """ "30 days after sending", "1 year after ..." in the user's language."""
    if period.unit == "years":
        amount = ngettext("%(num)d year", "%(num)d years", period.amount)
    else:
        amount = ngettext("%(num)d day", "%(num)d days", period.amount)
    return f"{amount} {KIND_LABELS[period.kind][1]}"


class PeriodForm(FlaskForm):
    kind = SelectField(_l("Kind of data"), choices=[
        (k.value, KIND_LABELS[k][0]) for k in Kind if RULES[k].editable])
    amount = IntegerField(_l("Keep for (days; years for tax names)"),
                          validators=[InputRequired()])
    source = StringField(_l("Source (legal basis or reason)"), validators=[Length(max=500)])


def _context(form: PeriodForm):
    cfg = current_app.config
    interval = timedelta(minutes=int(cfg["PURGE_INTERVAL_MINUTES"]))
    info = retention.overview(db.session, now=utcnow(), interval=interval,
                              upload_days=int(cfg["IMPORT_UPLOAD_RETENTION_DAYS"]),
                              instance_path=current_app.instance_path)
    return dict(info=info, form=form, labels=KIND_LABELS, kept_for=kept_for, rules=RULES,
                interval=int(cfg["PURGE_INTERVAL_MINUTES"]))


@bp.route("/records/retention", methods=["GET", "POST"])
@roles_required(Role.HR)
def retention_page():
    form = PeriodForm()
    if form.validate_on_submit():
        try:
            retention.save_period(db.session, Kind(form.kind.data), amount=form.amount.data,
                                  source=form.source.data or "",
                                  by=f"{current_role()}:{current_user.email}", now=utcnow())
        except InvalidPeriod:
            rule = RULES[Kind(form.kind.data)]
            form.amount.errors.append(_("Between %(low)s and %(high)s %(unit)s.",
                                        low=rule.low, high=rule.high,
                                        unit=UNIT_LABELS[rule.unit]))
        else:
            flash(_("Retention period saved."), "success")
            return redirect(url_for("records.retention_page"))
    return render_template("records/retention.html", **_context(form))
