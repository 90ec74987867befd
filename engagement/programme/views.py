"""The programme value dashboard: managers and HR read it; managers set the assumptions."""
from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import DecimalField
from wtforms.validators import InputRequired, NumberRange

from ..community.members import charts
from ..extensions import db
from ..formatting import month_label, number, short_number
from ..security import Role, current_role, roles_required
from ..timeutil import local_today, utcnow
from . import rules, services

bp = Blueprint("programme", __name__)

FIELD_LABELS = {
    "solution_rate": _l("Online solution rate (0 to 1)"),
    "contacts_per_solution": _l("Support contacts saved per accepted solution"),
    "minutes_per_contact": _l("Minutes per support contact"),
    "hours_per_fte_year": _l("Working hours per full-time agent and year"),
    "power_users_per_fte": _l("Power users per full-time agent"),
}
KIND_LABELS = {
    "promotion": (_l("Promotions"), "#15803d"),
    "demotion": (_l("Demotions"), "#b91c1c"),
    "override": (_l("Manual overrides"), "#64748b"),
}


def _field(name: str):
    low, high = rules.LIMITS[name]
    return DecimalField(FIELD_LABELS[name], places=None,
                        validators=[InputRequired(), NumberRange(min=low, max=high)])


class AssumptionsForm(FlaskForm):
    solution_rate = _field("solution_rate")
    contacts_per_solution = _field("contacts_per_solution")
    minutes_per_contact = _field("minutes_per_contact")
    hours_per_fte_year = _field("hours_per_fte_year")
    power_users_per_fte = _field("power_users_per_fte")


def _charts(data: services.ValueData) -> dict:
    no_tier = str(_("No tier"))

    def label(row):
        return row.tier.name if row.tier else no_tier

    def color(row):
        return row.tier.color if row.tier else "#94a3b8"

    kinds = [k for k in KIND_LABELS if any(data.movements.get(k, []))] or ["promotion",
                                                                             "demotion"]
    rated = [e for e in data.events if e.acceptance is not None]
    return {
        "tiers": charts.bar_chart([charts.Bar(label(r), r.members, color(r)) for r in data.tiers],
                                  title=str(_("Members per tier")), fmt=short_number),
        "movements": charts.column_chart(
            [month_label(m) for m in data.months],
            [charts.Series(str(KIND_LABELS[k][0]), data.movements.get(k, []), KIND_LABELS[k][1])
             for k in kinds],
            title=str(_("Tier movements per month, last 12 months")), fmt=short_number),
        "activity": charts.column_chart(
            [label(r) for r in data.tiers],
            [charts.Series(str(_("Answers")), [r.answers for r in data.tiers], "#e20074"),
             charts.Series(str(_("Accepted solutions")),
                           [r.accepted_solutions for r in data.tiers], "#0f766e")],
            title=str(_("Answers and accepted solutions by tier, last 365 days")),
            fmt=short_number),
        "events": charts.column_chart(
            [e.event.title[:14] for e in reversed(rated)],
            [charts.Series(str(_("Acceptance rate")),
                           [round((e.acceptance or 0) * 100, 1) for e in reversed(rated)],
                           "#e20074"),
             charts.Series(str(_("Attendance rate")),
                           [round((e.attendance or 0) * 100, 1) for e in reversed(rated)],
                           "#0f766e")],
            title=str(_("Invitation acceptance and attendance per event, in per cent")),
            fmt=lambda v: number(v)),
        "spend": charts.bar_chart(
            [charts.Bar(label(r), float(r.spend), color(r)) for r in data.tiers],
            title=str(_("Reward spend per tier in %(year)s (EUR)", year=data.spend_year)),
            fmt=lambda v: number(round(v))),
    }


def _render(form: AssumptionsForm | None = None, status: int = 200):
    today = local_today()
    data = services.value_dashboard(db.session, today, utcnow())
    can_edit = current_role() in (Role.ADMIN, Role.MANAGER)
    if form is None and can_edit:
        # "8" rather than "8.0": the stored values are floats.
        form = AssumptionsForm(data={k: f"{v:g}" for k, v in data.assumptions.as_dict().items()})
    return render_template("programme/value.html", data=data, charts=_charts(data),
                           form=form if can_edit else None, field_labels=FIELD_LABELS), status


@bp.route("/programme")
@roles_required(Role.MANAGER, Role.HR)
def value():
    return _render()


@bp.route("/programme/assumptions", methods=["POST"])
@roles_required(Role.MANAGER)
def assumptions():
    form = AssumptionsForm()
    if not form.validate_on_submit():
        flash(_("The assumptions were not saved: please correct the marked fields."), "error")
        return _render(form, 400)
    values, errors = rules.parse_assumptions(
        {name: str(getattr(form, name).data) for name in rules.LIMITS})
    if errors:  # the form's ranges match LIMITS; this guards against them drifting apart
        flash(_("The assumptions were not saved: please correct the marked fields."), "error")
        return _render(form, 400)
    services.save_assumptions(db.session, values)
    flash(_("Assumptions saved."), "success")
    return redirect(url_for("programme.value", _anchor="assumptions"))
