"""Volunteer records pages: the HR list with dashboard, one member-year with sign-off, CSV.

HR reads and signs off; managers keep event roles and agreements (volunteer_admin_views).
"""
from __future__ import annotations

import io

from flask import Response, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from ..accounts.models import User
from ..community.members.services import display_names, get_member
from ..db import paginate_list
from ..extensions import db
from ..formatting import SafeWriter
from ..rewards.rules import Flag
from ..security import Role, roles_required
from ..timeutil import local_year, utcnow
from ..web import ConfirmForm, page_arg
from . import bp
from . import volunteer_services as services

PER_PAGE = 50
SORTS = {
    "hours": lambda r: (r.figures.total_hours, r.member_id),
    "answers": lambda r: (r.figures.answers, r.member_id),
    "events": lambda r: (r.figures.events_attended, r.member_id),
    "rewards": lambda r: (r.figures.rewards_value, r.member_id),
    "member": lambda r: (r.member_id,),
}
FILTERS = ("over", "missing", "unsigned", "changed")


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
    result = paginate_list(shown, page=page_arg(), per_page=PER_PAGE)
    if result.page > result.pages:  # past the end: the last page
        result = paginate_list(shown, page=result.pages, per_page=PER_PAGE)
    rows = result.items
    return render_template(
        "records/volunteer_list.html", year=year, rows=rows, names=names_for(
            [r.member_id for r in rows]), page=result.page, pages=result.pages,
        total=result.total, sort=sort,
        only=only if only in FILTERS else "", stats=dashboard(records))


def _record_or_404(member_id: int, year: int):
    member = get_member(db.session, member_id)
    if member is None or not 1900 < year < 3000:
        abort(404)
    return member, services.year_records(db.session, year, tz(), [member_id])[member_id]


@bp.route("/records/<int:member_id>/<int:year>")
@roles_required(Role.HR)
def volunteer_record(member_id: int, year: int):
    member, record = _record_or_404(member_id, year)
    signer = (db.session.get(User, record.signoff.signed_by_user_id)
              if record.signoff and record.signoff.signed_by_user_id else None)
    return render_template(
        "records/volunteer_record.html", member=member, record=record, year=year,
        signer=signer, form=ConfirmForm(),
        roles=services.member_roles(db.session, member_id, year, tz()),
        agreements=services.member_agreements(db.session, member_id),
        withdrawn=services.agreement_withdrawals(db.session, member_id),
        consents=services.member_consents(db.session, member_id, year, tz()),
        minutes=services.minutes_settings(db.session))


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
               r.signoff.signed_at.isoformat() if r.signoff else "", " ".join(r.changed))


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
