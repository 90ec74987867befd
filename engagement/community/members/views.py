"""Member pages: dashboard, members list, profile, leaderboards and the member's own page."""
from __future__ import annotations

from flask import Blueprint, abort, current_app, flash, render_template, request
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from ...extensions import db
from ...formatting import month_label, short_number
from ...security import Role, current_role, roles_required
from ...timeutil import local_today, local_today_and_month_start
from ...web import page_arg
from ..models import WINDOWS, Member
from . import charts, services

bp = Blueprint("members", __name__)

METRIC_LABELS = {
    "answers": _l("Answers"),
    "accepted_solutions": _l("Accepted solutions"),
    "kudos_received": _l("Kudos"),
    "posts": _l("Posts"),
    "score": _l("Score"),
}
KIND_LABELS = {
    "promotion": _l("Promotion"),
    "demotion": _l("Demotion"),
    "override": _l("Manual override"),
    "override-removed": _l("Override removed"),
}


def _activity_chart(months, title: str):
    categories = [month_label(m.month) for m in months]
    return charts.column_chart(categories, [
        charts.Series(str(_("Answers")), [m.answers for m in months], "#e20074"),
        charts.Series(str(_("Accepted solutions")), [m.accepted_solutions for m in months],
                      "#0f766e"),
    ], title=title, fmt=short_number)


@bp.route("/dashboard")
@roles_required(Role.MANAGER, Role.HR)
def dashboard():
    today, month_start = local_today_and_month_start()
    data = services.dashboard(db.session, today, month_start)
    tier_chart = charts.bar_chart(
        [charts.Bar(t.name if t else str(_("No tier")), n, t.color if t else "#94a3b8")
         for t, n in data.tier_counts],
        title=str(_("Members per tier")), fmt=short_number)
    activity_chart = _activity_chart(
        data.months, str(_("Answers and accepted solutions per month, last 12 months")))
    return render_template("community/members/dashboard.html", data=data,
                           tier_chart=tier_chart, activity_chart=activity_chart,
                           month_start=month_start, kind_labels=KIND_LABELS)


@bp.route("/members")
@roles_required(Role.MANAGER, Role.HR)
def index():
    sources = services.distinct_values(db.session, Member.source)
    regions = services.distinct_values(db.session, Member.region)
    tiers = services.tiers_by_rank(db.session)
    args = request.args
    tier = args.get("tier", "")
    if tier and tier != services.NO_TIER and not any(str(t.id) == tier for t in tiers):
        flash(_("Unknown tier: the filter was ignored."), "warning")
        tier = ""
    sort = services.parse_sort(args.get("sort"))
    if args.get("sort") and sort != args.get("sort"):
        flash(_("Unknown sort order: sorted by score instead."), "warning")
    filters = services.MemberFilter(
        q=args.get("q", "").strip()[:100],
        tier=tier,
        source=args.get("source", "") if args.get("source", "") in sources else "",
        region=args.get("region", "") if args.get("region", "") in regions else "",
        sort=sort,
    )
    result = services.members_page(db.session, filters, page_arg(),
                                   current_app.config["MEMBERS_PER_PAGE"])
    return render_template("community/members/index.html", result=result, f=filters,
                           tiers=tiers, sources=sources, regions=regions,
                           no_tier=services.NO_TIER)


def _render_profile(member_id: int, own: bool):
    today = local_today()
    profile = services.member_profile(db.session, member_id, today)
    if profile is None:
        abort(404)
    chart = _activity_chart(
        profile.months, str(_("Answers and accepted solutions per month, last 24 months")))
    can_override = not own and current_role() in (Role.ADMIN, Role.MANAGER)
    return render_template(
        "community/members/profile.html", p=profile, member=profile.member, chart=chart,
        own=own, can_override=can_override,
        tiers=list(reversed(services.tiers_by_rank(db.session))) if can_override else [],
        windows=WINDOWS, metric_labels=METRIC_LABELS, kind_labels=KIND_LABELS,
        as_of=services.latest_window_as_of(db.session))


@bp.route("/members/<int:member_id>")
@roles_required(Role.MANAGER, Role.HR)
def profile(member_id: int):
    return _render_profile(member_id, own=False)


@bp.route("/leaderboards")
@roles_required(Role.MANAGER, Role.HR)
def leaderboards():
    metric = request.args.get("metric", "answers")
    if metric not in services.LEADERBOARD_METRICS:
        flash(_("Unknown metric: showing answers."), "warning")
        metric = "answers"
    window_arg = request.args.get("window", "all")
    window = int(window_arg) if window_arg.isdigit() and int(window_arg) in WINDOWS else None
    if window is None and window_arg != "all":
        flash(_("Unknown period: showing all time."), "warning")
    rows, as_of = services.leaderboard(db.session, metric, window)
    return render_template("community/members/leaderboards.html", rows=rows, as_of=as_of,
                           metric=metric, window=window, windows=WINDOWS,
                           metric_labels=METRIC_LABELS)


@bp.route("/me")
@roles_required(Role.MEMBER)
def me():
    member_id = getattr(current_user, "member_id", None)
    if member_id is None or db.session.get(Member, member_id) is None:
        return render_template("community/members/me_unlinked.html")
    return _render_profile(member_id, own=True)
