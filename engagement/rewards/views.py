"""Reward pages: catalogue, grants (with preview), approval, fulfilment, ledger, settings.

Managers change things; HR may read the grants list and the ledger (and export it).
"""
from __future__ import annotations

import io
from datetime import datetime
from zoneinfo import ZoneInfo

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import format_decimal, ngettext
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select
from wtforms.fields.choices import SelectChoice

from ..community.members.services import display_names, get_member
from ..community.tiers.services import tier_by_id, tier_member_ids
from ..db import paginate, paginate_list
from ..extensions import db
from ..formatting import SafeWriter
from ..security import Role, current_role, roles_required
from ..timeutil import local_year, utcnow
from ..web import ConfirmForm, page_arg
from . import restriction, rules, services
from .forms import (
    BASIS_LABELS,
    BASIS_SHORT,
    FLAG_LABELS,
    FULFILMENT_LABELS,
    KIND_LABELS,
    STATUS_LABELS,
    TARGET_LABELS,
    ApprovalForm,
    FulfilmentForm,
    GrantForm,
    ItemForm,
    TaxYearForm,
)
from .models import Grant, RewardItem
from .rules import Fulfilment, GrantStatus, TaxSettings

bp = Blueprint("rewards", __name__, url_prefix="/rewards")
PER_PAGE = 50


def _tz() -> str:
    return current_app.config["DEFAULT_TIMEZONE"]


def _this_year() -> int:
    return local_year(_tz())


def _year_arg() -> int:
    year = request.args.get("year", type=int)
    return year if year and 1900 < year < 3000 else _this_year()


@bp.app_context_processor
def reward_labels():
    return {"reward_kind_labels": KIND_LABELS, "reward_status_labels": STATUS_LABELS,
            "reward_fulfilment_labels": FULFILMENT_LABELS, "reward_flag_labels": FLAG_LABELS,
            "reward_basis_labels": BASIS_LABELS, "reward_basis_short": BASIS_SHORT}


@bp.app_template_filter("reward_money")
def reward_money(value) -> str:
    """An amount with exactly two decimals in the user's language (49,90 / 49.90)."""
    return "—" if value is None else format_decimal(value, format="#,##0.00")


# --- catalogue ------------------------------------------------------------------------

@bp.route("/items")
@roles_required(Role.MANAGER)
def items():
    rows = db.session.scalars(select(RewardItem).order_by(RewardItem.active.desc(),
                                                          RewardItem.name))
    return render_template("rewards/items.html", items=list(rows))


@bp.route("/items/new", methods=["GET", "POST"], defaults={"item_id": None})
@bp.route("/items/<int:item_id>/edit", methods=["GET", "POST"])
@roles_required(Role.MANAGER)
def edit_item(item_id: int | None):
    item = None if item_id is None else (db.session.get(RewardItem, item_id) or abort(404))
    form = ItemForm(obj=item)
    if form.validate_on_submit():
        values = dict(name=form.name.data, net_value=form.net_value.data,
                      vat_rate=form.vat_rate.data, kind=form.kind.data,
                      description=form.description.data or "")
        try:
            if item is None:
                item = services.create_item(db.session, now=utcnow(), **values)
                if not form.active.data:
                    services.update_item(db.session, item, active=False, **values)
            else:
                services.update_item(db.session, item, active=form.active.data, **values)
        except services.RewardError as exc:
            flash(str(exc), "error")
        else:
            flash(_("Reward %(name)s saved.", name=item.name), "success")
            return redirect(url_for("rewards.items"))
    return render_template("rewards/item_form.html", form=form, item=item)


# --- grants ---------------------------------------------------------------------------

def _recipients(target: str, target_id: int):
    """The member-id query for a grant target, or None if the target does not exist."""
    from ..events.models import Event

    if target == "member":
        return [target_id] if get_member(db.session, target_id) else None
    if target == "event":
        return (services.event_attendee_ids(target_id)
                if db.session.get(Event, target_id) else None)
    if target == "tier":
        return tier_member_ids(target_id) if tier_by_id(db.session, target_id) else None
    return None


@bp.route("/grants/new", methods=["GET", "POST"])
@roles_required(Role.MANAGER)
def new_grant():
    form = GrantForm(request.form if request.method == "POST" else request.args)
    active = db.session.scalars(select(RewardItem).where(RewardItem.active)
                                .order_by(RewardItem.name)).all()
    form.item_id.choices = [SelectChoice(i.id, f"{i.name} ({i.value:.2f} EUR)") for i in active]
    plan = None
    now = utcnow()
    year = rules.grant_year(now, _tz())
    searching = request.values.get("search") == "1"
    chosen = get_member(db.session, form.member_id.data) if form.member_id.data else None
    matches, more, over = [], False, set()
    if form.member_q.data and (searching or chosen is None):
        matches, more, over = services.pick_members(db.session, form.member_q.data,
                                                    year=year, tz_name=_tz())
    if chosen is not None:
        over |= services.over_limit(db.session, year, _tz(), [chosen.id], pending=True)
    if request.method == "POST" and not searching and form.validate():
        recipients = _recipients(form.target.data, form.recipient_id)
        if recipients is None:
            (form.member_id if form.target.data == "member" else form.target_id).errors.append(
                _("No such member, event or tier."))
        else:
            try:
                plan = services.plan_grants(db.session, item_id=form.item_id.data,
                                            member_ids=recipients, now=now, tz_name=_tz())
                if request.form.get("confirm") == "1":
                    target = f"{form.target.data}:{form.recipient_id}"
                    result = services.execute_plan(
                        db.session, plan, reason=form.reason.data or "",
                        event_id=form.event_id.data, by_user_id=current_user.id, now=now,
                        target=target)
                    if plan.preview.crossing_count:
                        flash(ngettext(
                            "%(num)s recipient now exceeds the gift limit for %(year)s: gifts "
                            "to them this year are no longer deductible.",
                            "%(num)s recipients now exceed the gift limit for %(year)s: gifts "
                            "to them this year are no longer deductible.",
                            plan.preview.crossing_count, year=plan.year), "warning")
                    if plan.preview.over_count:
                        flash(ngettext(
                            "%(num)s recipient was over the gift limit for %(year)s already.",
                            "%(num)s recipients were over the gift limit for %(year)s "
                            "already.", plan.preview.over_count, year=plan.year), "warning")
                    created = 1 if isinstance(result, Grant) else result
                    flash(_("%(n)s grants proposed; they need approval.", n=created),
                          "success")
                    return redirect(url_for("rewards.grants", status="proposed"))
            except services.RewardError as exc:
                flash(str(exc), "error")
                plan = None
    names = {}
    if plan and (plan.preview.crossing or plan.preview.over):
        names = display_names(db.session, [c.member_id for c in
                                           plan.preview.crossing + plan.preview.over])
    return render_template("rewards/grant_form.html", form=form, plan=plan, names=names,
                           has_items=bool(active), target_labels=TARGET_LABELS,
                           chosen=chosen, matches=matches, more=more, over=over, year=year,
                           searched=bool(form.member_q.data))


@bp.route("/grants")
@roles_required(Role.MANAGER, Role.HR)
def grants():
    query = select(Grant)
    year = request.args.get("year", type=int)
    status = request.args.get("status", "")
    fulfilment = request.args.get("fulfilment", "")
    member_id = request.args.get("member", type=int)
    if year:
        query = query.where(Grant.year == year)
    if status in {s.value for s in GrantStatus}:
        query = query.where(Grant.status == status)
    if fulfilment == "none":
        query = query.where(Grant.fulfilment.is_(None))
    elif fulfilment in {f.value for f in Fulfilment}:
        query = query.where(Grant.fulfilment == fulfilment)
    if member_id:
        query = query.where(Grant.member_id == member_id)
    query = query.order_by(Grant.granted_at.desc(), Grant.id.desc())
    shown = paginate(db.session, query, page=page_arg(), per_page=PER_PAGE,
                     past_end_shows_last=True)
    names = display_names(db.session, {g.member_id for g in shown.items})
    policy = services.four_eyes(db.session)
    over = services.over_limit_by_year(db.session, {(g.member_id, g.year) for g in shown.items},
                                       _tz())
    rows = [(g, names.get(g.member_id),
             not rules.may_approve(g.value, g.granted_by_id, current_user.id, policy),
             (g.member_id, g.year) in over)
            for g in shown.items]
    return render_template(
        "rewards/grants.html", rows=rows, page=shown.page, pages=shown.pages,
        total=shown.total, year=year, four_eyes=policy,
        status=status, fulfilment=fulfilment, can_edit=current_role() in (Role.ADMIN,
                                                                          Role.MANAGER),
        confirm=ConfirmForm(), fulfilment_form=FulfilmentForm(formdata=None))


def _grant_or_404(grant_id: int) -> Grant:
    return db.session.get(Grant, grant_id) or abort(404)


@bp.route("/grants/<int:grant_id>/approve", methods=["POST"])
@roles_required(Role.MANAGER)
def approve(grant_id: int):
    return _decide(grant_id, "approve")


@bp.route("/grants/<int:grant_id>/reject", methods=["POST"])
@roles_required(Role.MANAGER)
def reject(grant_id: int):
    return _decide(grant_id, "reject")


def _decide(grant_id: int, decision: str):
    grant = _grant_or_404(grant_id)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    try:
        services.decide(db.session, grant, approve=decision == "approve",
                        by_user_id=current_user.id, now=utcnow())
    except services.FourEyesRequired:
        flash(_("Four eyes: you proposed this grant, so someone else has to approve it."),
              "error")
    except services.RewardError as exc:
        flash(str(exc), "error")
    else:
        flash(_("Grant approved.") if decision == "approve" else _("Grant rejected."),
              "success")
    return redirect(request.referrer or url_for("rewards.grants"))


@bp.route("/grants/<int:grant_id>/fulfilment", methods=["POST"])
@roles_required(Role.MANAGER)
def fulfilment(grant_id: int):
    grant = _grant_or_404(grant_id)
    form = FulfilmentForm()
    if not form.validate_on_submit():
        flash(_("Choose a fulfilment status."), "error")
    else:
        try:
            services.set_fulfilment(db.session, grant, status=form.status.data,
                                    note=form.note.data or "", now=utcnow())
        except services.RewardError as exc:
            flash(str(exc), "error")
        else:
            flash(_("Fulfilment updated."), "success")
    return redirect(request.referrer or url_for("rewards.grants"))


# --- ledger ---------------------------------------------------------------------------

def _restricted_names(member_ids: list[int]) -> dict[int, str]:
    """Names of erased recipients kept for the tax listing (Art. 18): for HR alone;
    managers (and admins) see the pseudonym."""
    if current_role() != Role.HR:
        return {}
    return restriction.restricted_names(db.session, member_ids, now=utcnow())


@bp.route("/ledger")
@roles_required(Role.MANAGER, Role.HR)
def ledger():
    year = _year_arg()
    lines = services.ledger(db.session, year, _tz())
    only = request.args.get("flag", "")
    shown = [ln for ln in lines if not only or ln.flag == only]
    result = paginate_list(shown, page=page_arg(), per_page=PER_PAGE, past_end_shows_last=True)
    names = display_names(db.session, [ln.member_id for ln in result.items])
    restricted = _restricted_names([ln.member_id for ln in result.items])
    return render_template(
        "rewards/ledger.html", year=year, lines=result.items, names=names, flag=only,
        restricted=restricted,
        summary=services.ledger_summary(lines), settings=services.tax_settings(db.session, year),
        page=result.page, pages=result.pages, total=result.total)


@bp.route("/ledger/gifts.csv")
@roles_required(Role.MANAGER, Role.HR)
def gifts_csv():
    year = _year_arg()
    buffer = io.StringIO()
    writer = SafeWriter(buffer)
    writer.writerow(["grant_id", "date", "recipient", "member_id", "reward", "kind",
                     "value_eur", "net_eur", "vat_rate", "status", "reason"])
    zone = ZoneInfo(_tz())
    rows = list(services.gift_rows(db.session, year))
    restricted = _restricted_names([row[3] for row in rows])
    for gid, at, name, mid, item, kind, value, net, vat, status, reason in rows:
        writer.writerow([gid, at.astimezone(zone).date().isoformat(),
                         restricted.get(mid, name), mid, item, str(kind), f"{value:.2f}",
                         f"{net:.2f}", f"{vat:.2f}", str(status), reason])
    return Response(buffer.getvalue(), mimetype="text/csv", headers={
        "Content-Disposition": f"attachment; filename=gifts-{year}.csv"})


@bp.route("/ledger/<int:year>/notice/<int:member_id>")
@roles_required(Role.MANAGER, Role.HR)
def notice(year: int, member_id: int):
    """The § 37b notice for one recipient and year: a printable page, or `?format=txt`."""
    member = get_member(db.session, member_id) or abort(404)
    if not 1900 < year < 3000:
        abort(404)
    try:
        result = services.flat_tax_notice(
            db.session, year, member_id, recipient=member.display_name, tz_name=_tz(),
            issued=datetime.now(ZoneInfo(_tz())).date())
    except services.RewardError as exc:
        flash(str(exc), "error")
        return redirect(url_for("rewards.ledger", year=year))
    if request.args.get("format") == "txt":
        return Response(result.text, mimetype="text/plain", headers={
            "Content-Disposition":
                f"attachment; filename=notice-37b-{year}-{member_id}.txt"})
    return render_template("rewards/notice.html", notice=result, member=member)


# --- settings -------------------------------------------------------------------------

def _form_data(settings: TaxSettings) -> dict:
    return {name: getattr(settings, name) for name in TaxSettings.FIGURES} | {
        "limit_basis": str(settings.limit_basis)}


@bp.route("/settings", methods=["GET", "POST"])
@roles_required(Role.MANAGER)
def settings():
    """The tax rules of one year (`?year=`, this year by default) and the list of years."""
    year = _year_arg()
    current = services.tax_settings(db.session, year)
    form = TaxYearForm(data=None if request.method == "POST" else _form_data(current))
    if form.validate_on_submit():
        try:
            services.save_tax_year(db.session, year, TaxSettings(
                year=year, gift_limit=rules.money(form.gift_limit.data),
                gift_limit_source=form.gift_limit_source.data.strip(),
                limit_basis=rules.LimitBasis(form.limit_basis.data),
                limit_basis_source=form.limit_basis_source.data.strip(),
                flat_tax_opted_in=form.flat_tax_opted_in.data,
                flat_tax_source=form.flat_tax_source.data.strip(),
                flat_rate=rules.percent(form.flat_rate.data),
                flat_rate_source=form.flat_rate_source.data.strip(),
                flat_tax_cap=rules.money(form.flat_tax_cap.data),
                flat_tax_cap_source=form.flat_tax_cap_source.data.strip(),
                giveaway_limit=rules.money(form.giveaway_limit.data),
                giveaway_source=form.giveaway_source.data.strip(),
                include_hospitality=form.include_hospitality.data),
                now=utcnow(), current_year=_this_year())
        except (services.RewardError, ValueError) as exc:
            flash(str(exc), "error")
        else:
            flash(_("Tax rules for %(year)s saved; other years are unchanged.", year=year),
                  "success")
            return redirect(url_for("rewards.settings", year=year))
    policy = services.four_eyes(db.session)
    approval = ApprovalForm(formdata=None, data={
        "four_eyes": policy.enabled, "four_eyes_above": policy.above,
        "company": services.company_name(db.session)})
    return render_template("rewards/settings.html", form=form, current=current, year=year,
                           years=services.tax_years(db.session), approval=approval,
                           four_eyes_source=services.four_eyes_source(db.session),
                           this_year=_this_year())


@bp.route("/settings/approval", methods=["POST"])
@roles_required(Role.MANAGER)
def approval_settings():
    form = ApprovalForm()
    if not form.validate_on_submit():
        flash(_("Enter a value of zero or more."), "error")
    else:
        services.save_four_eyes(db.session, rules.FourEyes(
            enabled=form.four_eyes.data, above=rules.money(form.four_eyes_above.data)))
        services.save_company_name(db.session, form.company.data or "")
        flash(_("Approval settings saved."), "success")
    return redirect(url_for("rewards.settings", _anchor="approval"))
