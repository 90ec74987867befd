"""Volunteer records pages: the HR list with dashboard, one member-year with sign-off, CSV.

HR reads and signs off; managers keep event roles and agreements (volunteer/admin_views.py).
"""
from __future__ import annotations

import io

from flask import Response, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext
from flask_login import current_user

from ...accounts.models import User
from ...community.members.services import display_names, get_member
from ...db import paginate_list
from ...extensions import db
from ...formatting import SafeWriter
from ...rewards.rules import Flag
from ...security import Role, roles_required
from ...timeutil import local_year, utcnow
from ...web import ConfirmForm, page_arg
from .. import bp, rules
from ..forms import MinutesForm
from ..rules import describe_changes
from . import itemised as volunteer_itemised
from . import services

PER_PAGE = 50
SORTS = {
    "hours": lambda r: (r.figures.total_hours, r.member_id),
    "answers": lambda r: (r.figures.answers, r.member_id),
    "events": lambda r: (r.figures.events_attended, r.member_id),
    "rewards": lambda r: (r.figures.rewards_value, r.member_id),
    "member": lambda r: (r.member_id,),
}
FILTERS = ("over", "missing", "unsigned", "changed")
FILTER_LABELS = {"": _l("All records"), "over": _l("Gift limit crossed"),
                 "missing": _l("Missing current agreement"), "unsigned": _l("Not signed off"),
                 "changed": _l("Changed after sign-off")}
FIGURE_LABELS = {"answers": _l("Answers"), "accepted": _l("Accepted solutions"),
                 "estimated_hours": _l("Estimated hours from answers"),
                 "role_hours": _l("Hours in event roles"),
                 "events_attended": _l("Events attended"),
                 "rewards_value": _l("Rewards (EUR)")}


def tz() -> str:
    return current_app.config["DEFAULT_TIMEZONE"]


def year_arg() -> int:
    year = request.args.get("year", type=int)
    return year if year and 1900 < year < 3000 else local_year(tz())


def dashboard(records) -> dict:
    return {"members": len(records),
            "over": sum(1 for r in records if r.reward_flag == Flag.OVER),
            "missing": sum(1 for r in records if r.missing_agreement),
            "unsigned": sum(1 for r in records if r.signoff is None),
            "changed": sum(1 for r in records if r.changed)}


def _matches(record, only: str) -> bool:
    return {"over": record.reward_flag == Flag.OVER, "missing": record.missing_agreement,
            "unsigned": record.signoff is None, "changed": bool(record.changed)}.get(only, True)


def sorted_records(year: int, sort: str, only: str = ""):
    records = list(services.year_records(db.session, year, tz()).values())
    key = sort.lstrip("-")
    records.sort(key=SORTS.get(key, SORTS["hours"]), reverse=sort.startswith("-"))
    shown = [r for r in records if _matches(r, only)] if only in FILTERS else records
    return records, shown


def names_for(member_ids) -> dict[int, str]:
    return display_names(db.session, member_ids)


@bp.route("/records")
@roles_required(Role.HR)
def volunteer_list():
    year = year_arg()
    sort = request.args.get("sort") or "-hours"
    if sort.lstrip("-") not in SORTS:
        sort = "-hours"
    only = request.args.get("only", "")
    records, shown = sorted_records(year, sort, only)
    result = paginate_list(shown, page=page_arg(), per_page=PER_PAGE, past_end_shows_last=True)
    rows = result.items
    return render_template(
        "records/volunteer_list.html", year=year, rows=rows, names=names_for(
            [r.member_id for r in rows]), page=result.page, pages=result.pages,
        total=result.total, sort=sort,
        only=only if only in FILTERS else "", stats=dashboard(records),
        waiting=sum(1 for r in shown if r.needs_signoff),
        bulk_url=url_for("records.volunteer_bulk_confirm", year=year,
                         only=only if only in FILTERS else None),
        minutes=services.minutes_source(db.session))


def _record_or_404(member_id: int, year: int):
    member = get_member(db.session, member_id)
    if member is None or not 1900 < year < 3000:
        abort(404)
    return member, services.year_records(db.session, year, tz(), [member_id])[member_id]


@bp.route("/records/<int:member_id>/<int:year>")
@roles_required(Role.HR)
def volunteer_record(member_id: int, year: int):
    member, _record = _record_or_404(member_id, year)
    itemised = volunteer_itemised.itemised_record(db.session, member_id, year, tz())
    record = itemised.record
    signer = (db.session.get(User, record.signoff.signed_by_user_id)
              if record.signoff and record.signoff.signed_by_user_id else None)
    return render_template(
        "records/volunteer_record.html", member=member, record=record, year=year,
        signer=signer, form=ConfirmForm(), items=itemised, printed_at=utcnow(),
        figure_labels=FIGURE_LABELS,
        withdrawn=services.agreement_withdrawals(db.session, member_id))


@bp.route("/records/<int:member_id>/<int:year>/sign-off", methods=["POST"])
@roles_required(Role.HR)
def volunteer_sign_off(member_id: int, year: int):
    _member, record = _record_or_404(member_id, year)
    form = ConfirmForm()
    if not form.validate_on_submit():
        flash(_("The form expired. Please try again."), "error")
    else:
        services.sign_off(db.session, record, by_user_id=current_user.id, now=utcnow())
        flash(_("The record for %(year)s was signed off.", year=year), "success")
    return redirect(url_for("records.volunteer_record", member_id=member_id, year=year))


CSV_HEADER = ("member_id", "display_name", "year", "answers", "accepted_solutions",
              "estimated_hours", "role_hours", "total_hours", "events_attended",
              "rewards_value", "reward_flag", "missing_agreement", "signed_off_at", "changed")


def csv_rows(records, names):
    for r in records:
        f = r.figures
        yield (r.member_id, names.get(r.member_id, ""), r.year, f.answers, f.accepted,
               f.estimated_hours, f.role_hours, f.total_hours, f.events_attended,
               f.rewards_value, str(r.reward_flag), "yes" if r.missing_agreement else "no",
               r.signoff.signed_at.isoformat() if r.signoff else "",
               describe_changes(r.changes))


def csv_response(year: int) -> Response:
    records, _shown = sorted_records(year, "member")
    buffer = io.StringIO()
    writer = SafeWriter(buffer)
    writer.writerow(CSV_HEADER)
    # Names in chunks: an IN list of 100,000 ids is too long for some databases.
    for start in range(0, len(records), 5000):
        chunk = records[start:start + 5000]
        writer.writerows(csv_rows(chunk, names_for([r.member_id for r in chunk])))
    return Response(buffer.getvalue(), mimetype="text/csv", headers={
        "Content-Disposition": f'attachment; filename="volunteer-records-{year}.csv"'})


@bp.route("/records.csv")
@roles_required(Role.HR)
def volunteer_csv():
    return csv_response(year_arg())


# --- bulk sign-off ---------------------------------------------------------------------

def _filter_arg(source) -> str:
    only = source.get("only", "")
    return only if only in FILTERS else ""


def _bulk_page(year: int, only: str, waiting: int, status: int = 200, note: str = ""):
    _all, shown = sorted_records(year, "member", only)
    return render_template(
        "records/volunteer_bulk.html", year=year, only=only, waiting=waiting,
        shown=len(shown), filter_label=FILTER_LABELS[only], form=ConfirmForm(),
        note=note, back_url=url_for("records.volunteer_list", year=year,
                                    only=only or None)), status


@bp.route("/records/sign-off")
@roles_required(Role.HR)
def volunteer_bulk_confirm():
    """The confirmation before a bulk sign-off: which set, how many (GET never writes)."""
    year, only = year_arg(), _filter_arg(request.args)
    _all, shown = sorted_records(year, "member", only)
    return _bulk_page(year, only, sum(1 for r in shown if r.needs_signoff))


@bp.route("/records/sign-off", methods=["POST"])
@roles_required(Role.HR)
def volunteer_bulk_sign_off():
    """Sign off every waiting record of the filtered set the HR user confirmed."""
    year = request.form.get("year", type=int)
    if not year or not 1900 < year < 3000:
        abort(400)
    only = _filter_arg(request.form)
    expected = request.form.get("expected", type=int)
    _all, shown = sorted_records(year, "member", only)
    waiting = [r for r in shown if r.needs_signoff]
    back = url_for("records.volunteer_list", year=year, only=only or None)
    if not ConfirmForm().validate_on_submit():
        flash(_("The form expired. Please try again."), "error")
        return redirect(back)
    if not waiting:  # a second click, or someone else was quicker: nothing left to do
        flash(_("Nothing to sign off: every record of this set is already signed off."),
              "info")
        return redirect(back)
    if expected != len(waiting):
        return _bulk_page(year, only, len(waiting), 409, note=_(
            "The set changed since you confirmed it: %(n)s records wait for sign-off now. "
            "Please confirm again.", n=len(waiting)))
    result = services.bulk_sign_off(db.session, waiting, year=year, filter_name=only or "all",
                                    by_user_id=current_user.id, now=utcnow())
    if result.total:
        flash(ngettext("%(num)s record for %(year)s was signed off.",
                       "%(num)s records for %(year)s were signed off.", result.total,
                       year=year), "success")
    else:  # a concurrent click signed them while this one waited
        flash(_("Nothing to sign off: every record of this set is already signed off."),
              "info")
    return redirect(back)


# --- the hours estimate's settings ------------------------------------------------------

@bp.route("/records/settings", methods=["GET", "POST"])
@roles_required(Role.HR, Role.MANAGER)
def volunteer_settings():
    current = services.minutes_source(db.session)
    form = MinutesForm(data={"per_answer": current.per_answer,
                             "per_accepted": current.per_accepted, "basis": current.basis})
    if form.validate_on_submit():
        services.save_minutes_settings(db.session, per_answer=form.per_answer.data,
                                       per_accepted=form.per_accepted.data,
                                       basis=form.basis.data or "")
        flash(_("The hours estimate was saved. It applies to every year; signed-off years "
                "show the difference."), "success")
        return redirect(url_for("records.volunteer_settings"))
    return render_template("records/volunteer_settings.html", form=form, current=current,
                           defaults=(rules.DEFAULT_MINUTES_PER_ANSWER,
                                     rules.DEFAULT_MINUTES_PER_ACCEPTED)), \
        (400 if form.errors else 200)
