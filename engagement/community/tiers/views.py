"""Tier pages: the ladder, the rule editor with preview, recompute, weights, history, overrides."""
from __future__ import annotations

from datetime import date, datetime

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from sqlalchemy import func, or_, select
from wtforms.fields.choices import SelectChoice

from ...db import paginate
from ...extensions import db
from ...security import Role, current_role, roles_required
from ...settings import get_setting
from ...timeutil import local_today, utcnow
from ...web import ConfirmForm, page_arg
from ..models import Member, Tier, TierHistory
from ..scoring import ScoreWeights, load_weights
from . import services
from .forms import OverrideForm, TierForm, WeightsForm, rule_error_message
from .rules import RULE_WINDOWS, Change, RuleError

bp = Blueprint("tiers", __name__)

HISTORY_PER_PAGE = 50
MANAGERS = (Role.ADMIN, Role.MANAGER)


def _tiers() -> list[Tier]:
    return list(db.session.scalars(select(Tier).order_by(Tier.rank.desc())))


def _is_manager() -> bool:
    return current_role() in MANAGERS


@bp.route("/tiers")
@roles_required(Role.MANAGER, Role.HR)
def index():
    weights = load_weights(db.session)
    weights_form = WeightsForm(formdata=None, data=weights.__dict__)
    last_run = get_setting(db.session, services.LAST_RUN_SETTING)
    last_run_at = last_run_day = None
    if isinstance(last_run, dict):
        try:
            last_run_at = datetime.fromisoformat(last_run["at"])
            last_run_day = date.fromisoformat(last_run["as_of"])
        except (KeyError, TypeError, ValueError):
            last_run = None
    return render_template(
        "community/tiers/index.html", tiers=_tiers(), counts=services.member_counts(db.session),
        weights=weights, weights_form=weights_form, last_run=last_run, last_run_at=last_run_at,
        last_run_day=last_run_day,
        can_edit=_is_manager(),
        confirm=ConfirmForm())


def _values(form: TierForm) -> services.TierValues:
    return services.TierValues(
        name=form.name.data.strip(), rank=form.rank.data, rule=form.rule.data,
        color=form.color.data, grace_days=form.grace_days.data,
        description=form.description.data or "")


@bp.route("/tiers/new", methods=["GET", "POST"], defaults={"tier_id": None})
@bp.route("/tiers/<int:tier_id>/edit", methods=["GET", "POST"])
@roles_required(Role.MANAGER)
def edit(tier_id: int | None):
    tier = None if tier_id is None else (db.session.get(Tier, tier_id) or abort(404))
    form = TierForm(obj=tier)
    if tier is None and request.method == "GET":
        # Suggest a rank above the top tier; ranks are spaced so tiers can be slotted in.
        top = db.session.scalar(select(func.max(Tier.rank)))
        form.rank.data = (top or 0) + 10
    preview = None
    if form.validate_on_submit():
        values = _values(form)
        try:
            if form.preview.data:
                ladder = services.draft_ladder(db.session, tier, values)
                preview = services.preview_ladder(db.session, ladder, local_today())
            else:
                saved = services.save_tier(db.session, tier, values)
                flash(_("Tier %(name)s saved. Recompute the tiers to apply the rule.",
                        name=saved.name), "success")
                return redirect(url_for("tiers.index"))
        except RuleError as exc:
            form.rule.errors = [*form.rule.errors, rule_error_message(exc)]
        except services.TierRuleInvalid as exc:
            flash(_("The rule of tier %(name)s is invalid: %(error)s", name=exc.tier_name,
                    error=rule_error_message(exc.error)), "error")
        except services.TierNameTaken:
            form.name.errors = [*form.name.errors, _("Another tier has this name.")]
        except services.TierRankTaken:
            form.rank.errors = [*form.rank.errors, _("Another tier has this rank.")]
        except services.TierError as exc:
            flash(str(exc), "error")
    elif "csrf_token" in form.errors:
        abort(400)
    return render_template("community/tiers/edit.html", tier=tier, form=form, preview=preview,
                           holders=services.holders(db.session, tier) if tier else 0,
                           windows=RULE_WINDOWS, limit=services.PREVIEW_LIMIT)


@bp.route("/tiers/<int:tier_id>/delete", methods=["POST"])
@roles_required(Role.MANAGER)
def delete(tier_id: int):
    tier = db.session.get(Tier, tier_id) or abort(404)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    name = tier.name
    try:
        services.delete_tier(db.session, tier)
    except services.TierInUse as exc:
        flash(_("%(name)s cannot be deleted: %(n)s members hold it or have it as their "
                "override. Move them first (change the rule and recompute).",
                name=name, n=exc.members), "error")
        return redirect(url_for("tiers.edit", tier_id=tier_id))
    flash(_("Tier %(name)s deleted.", name=name), "success")
    return redirect(url_for("tiers.index"))


@bp.route("/tiers/recompute", methods=["POST"])
@roles_required(Role.MANAGER)
def recompute():
    if not ConfirmForm().validate_on_submit():
        abort(400)
    try:
        result = services.compute_tiers(db.session, local_today(), utcnow())
    except services.TierRuleInvalid as exc:
        flash(_("The rule of tier %(name)s is invalid: %(error)s", name=exc.tier_name,
                error=rule_error_message(exc.error)), "error")
        return redirect(url_for("tiers.index"))
    flash(_("Tiers computed as of %(day)s: %(evaluated)s members evaluated, %(up)s promoted, "
            "%(down)s demoted, %(pending)s demotions pending, %(over)s overridden.",
            day=result.as_of.isoformat(), evaluated=f"{result.evaluated:,}",
            up=f"{result.promoted:,}", down=f"{result.demoted:,}",
            pending=f"{result.pending_demotions:,}", over=f"{result.overridden:,}"), "success")
    return redirect(url_for("tiers.index"))


@bp.route("/tiers/weights", methods=["POST"])
@roles_required(Role.MANAGER)
def weights():
    form = WeightsForm()
    if not form.validate_on_submit():
        for name, errors in form.errors.items():
            label = getattr(form, name).label.text if hasattr(form, name) else name
            flash(f"{label}: {'; '.join(errors)}", "error")
        return redirect(url_for("tiers.index"))
    new = ScoreWeights(posts=form.posts.data, answers=form.answers.data,
                       accepted_solutions=form.accepted_solutions.data,
                       kudos_received=form.kudos_received.data)
    if services.save_weights(db.session, new, local_today()):
        flash(_("Score weights saved; scores recomputed. Recompute the tiers to apply them."),
              "success")
    else:
        flash(_("The score weights are unchanged."), "info")
    return redirect(url_for("tiers.index"))


@bp.route("/tiers/history")
@roles_required(Role.MANAGER, Role.HR)
def history():
    kinds = [c.value for c in Change]
    kind = request.args.get("kind", "")
    tier_id = request.args.get("tier", type=int)
    member_id = request.args.get("member", type=int)
    conditions = []
    if kind in kinds:
        conditions.append(TierHistory.kind == kind)
    if tier_id:
        conditions.append(or_(TierHistory.to_tier_id == tier_id,
                              TierHistory.from_tier_id == tier_id))
    if member_id:
        conditions.append(TierHistory.member_id == member_id)
    total = db.session.scalar(select(func.count()).select_from(TierHistory).where(*conditions))
    query = (select(TierHistory, Member.display_name)
             .join(Member, Member.id == TierHistory.member_id)
             .where(*conditions)
             .order_by(TierHistory.at.desc(), TierHistory.id.desc()))
    shown = paginate(db.session, query, page=page_arg(), per_page=HISTORY_PER_PAGE,
                     scalars=False, count=total or 0, past_end_shows_last=True)
    return render_template("community/tiers/history.html", rows=shown.items,
                           total=shown.total, page=shown.page, pages=shown.pages,
                           kinds=kinds, kind=kind, tier_id=tier_id,
                           member_id=member_id, tiers=_tiers(), kind_labels=_kind_labels())


def _kind_labels() -> dict[str, str]:
    return {Change.PROMOTION.value: _("promotion"), Change.DEMOTION.value: _("demotion"),
            Change.OVERRIDE.value: _("override"),
            Change.OVERRIDE_REMOVED.value: _("override removed")}


@bp.route("/members/<int:member_id>/tier-override", methods=["POST"])
@roles_required(Role.MANAGER)
def override(member_id: int):
    member = db.session.get(Member, member_id) or abort(404)
    tiers = _tiers()
    form = OverrideForm()
    form.tier.choices = [SelectChoice("", "")] + [SelectChoice(str(t.id), t.name) for t in tiers]
    back = url_for("members.profile", member_id=member.id)
    if not form.validate_on_submit():
        for name, errors in form.errors.items():
            label = getattr(form, name).label.text if hasattr(form, name) else name
            flash(f"{label}: {'; '.join(errors)}", "error")
        return redirect(back)
    tier = next((t for t in tiers if str(t.id) == form.tier.data), None)
    try:
        services.set_override(db.session, member, tier, form.reason.data, utcnow(), local_today())
    except services.OverrideError:
        flash(_("This member has no tier override to remove."), "error")
        return redirect(back)
    except services.TierRuleInvalid as exc:
        flash(_("The rule of tier %(name)s is invalid: %(error)s", name=exc.tier_name,
                error=rule_error_message(exc.error)), "error")
        return redirect(back)
    if tier is None:
        flash(_("Override removed; the tier rules apply again."), "success")
    else:
        flash(_("%(member)s is now pinned to %(tier)s.", member=member.display_name,
                tier=tier.name), "success")
    return redirect(back)
