"""Segment pages: list, editor with preview (count + first members), delete."""
from __future__ import annotations

import json

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from ...extensions import db
from ...security import Role, roles_required
from ...timeutil import utcnow
from ...web import ConfirmForm
from ..models import Tier
from . import services
from .forms import (
    METRIC_LABELS,
    METRIC_SLOTS,
    WINDOW_LABELS,
    build_form,
    criteria_to_form,
    form_to_criteria,
)
from .models import Segment
from .rules import InvalidCriteria, criteria_from_dict

bp = Blueprint("segments", __name__, url_prefix="/segments")
PREVIEW_LIMIT = 50


def _tiers() -> list[tuple[str, int]]:
    return [(t.name, t.rank) for t in db.session.scalars(select(Tier).order_by(Tier.rank.desc()))]


def _form(**kwargs):
    extras = [(f.name, f.label or f.name) for f in services.criterion_filters().values()
              if f.in_form]
    return build_form(tiers=_tiers(), regions=services.known_regions(db.session),
                      locales=services.known_locales(db.session), extras=extras, **kwargs)


def _actor() -> str:
    return f"{current_user.role}:{current_user.email}"


def criteria_context() -> dict:
    """What the criteria macro needs to describe criteria in words."""
    return {"metric_labels": METRIC_LABELS, "window_labels": WINDOW_LABELS,
            "tier_by_rank": {rank: name for name, rank in _tiers()},
            "extra_labels": {name: f.label for name, f in services.criterion_filters().items()
                             if f.label}}


def _editor(segment: Segment | None):
    form = _form()
    if request.method == "GET" and segment is not None:
        form = _form(obj=segment)
        criteria_to_form(form, segment.criteria)
        form = _refresh_choices(form)
    result, criteria, status = None, None, 200
    wants_preview = request.method == "GET" and segment is not None
    if request.method == "POST" and form.validate_on_submit():
        try:
            criteria = services.validate_extras(criteria_from_dict(form_to_criteria(form)))
            services.check_tiers_exist(db.session, criteria)
        except InvalidCriteria as exc:
            flash(_("These conditions cannot be used: %(reason)s", reason=str(exc)), "error")
            status = 400
        else:
            if request.form.get("action") == "save":
                try:
                    saved = services.save_segment(
                        db.session, name=form.name.data, description=form.description.data,
                        criteria=criteria, segment=segment, actor_user_id=current_user.id,
                        actor=_actor(), now=utcnow())
                except services.SegmentError as exc:
                    flash(str(exc), "error")
                    status = 400
                else:
                    flash(_("Segment “%(name)s” saved: %(n)s members.", name=saved.name,
                            n=saved.member_count), "success")
                    return redirect(url_for("segments.edit", segment_id=saved.id))
            wants_preview = status == 200
    elif request.method == "POST":
        status = 400
    if wants_preview:
        if criteria is None and segment is not None:
            criteria = services.criteria_of(segment)
        try:
            result = services.preview(db.session, criteria, PREVIEW_LIMIT, now=utcnow())
        except InvalidCriteria as exc:
            flash(_("These conditions cannot be used: %(reason)s", reason=str(exc)), "error")
            status = 400
        else:
            if segment is not None and request.method == "GET":
                segment.member_count, segment.counted_at = result.total, utcnow()
    return render_template(
        "community/segments/edit.html", form=form, segment=segment, preview=result,
        criteria_json=json.dumps(criteria.to_dict()) if criteria is not None else None,
        metric_slots=list(METRIC_SLOTS), confirm=ConfirmForm(), **criteria_context(),
    ), status


def _refresh_choices(form):
    # Saved values missing from today's data stay visible (see build_form).
    for field in (form.tiers, form.regions, form.locales):
        offered = {value for value, _label in field.choices}
        field.choices += [(v, v) for v in (field.data or []) if v not in offered]
    return form


@bp.route("")
@roles_required(Role.MANAGER)
def index():
    segments = db.session.scalars(select(Segment).order_by(Segment.name)).all()
    return render_template("community/segments/index.html", segments=segments,
                           **criteria_context())


@bp.route("/new", methods=["GET", "POST"])
@roles_required(Role.MANAGER)
def new():
    return _editor(None)


@bp.route("/<int:segment_id>", methods=["GET", "POST"])
@roles_required(Role.MANAGER)
def edit(segment_id: int):
    segment = db.session.get(Segment, segment_id) or abort(404)
    return _editor(segment)


@bp.route("/<int:segment_id>/delete", methods=["POST"])
@roles_required(Role.MANAGER)
def delete(segment_id: int):
    segment = db.session.get(Segment, segment_id) or abort(404)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    name = segment.name
    services.delete_segment(db.session, segment, now=utcnow())
    flash(_("Segment “%(name)s” deleted.", name=name), "success")
    return redirect(url_for("segments.index"))
