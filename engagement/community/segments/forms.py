"""The segment editor form; choices (tiers, regions, languages, extra criteria) come from data."""
from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    IntegerField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
    widgets,
)
from wtforms.validators import DataRequired, Length, NumberRange, Optional

from .rules import MAX_DAYS, MAX_METRIC_CONDITIONS

METRIC_LABELS = {
    "answers": _l("Answers"), "accepted_solutions": _l("Accepted solutions"),
    "kudos_received": _l("Kudos received"), "posts": _l("Posts"), "score": _l("Score"),
}
WINDOW_LABELS = {"lifetime": _l("lifetime"), "365": _l("last 365 days"),
                 "90": _l("last 90 days"), "30": _l("last 30 days")}
METRIC_SLOTS = range(1, MAX_METRIC_CONDITIONS + 1)


class LenientMultipleField(SelectMultipleField):
    """A multiple choice that keeps values no longer offered (a region that emptied)."""

    def pre_validate(self, form) -> None:
        # Unknown tier names are reported by the criteria check with a clear message.
        return None


class CheckboxListField(LenientMultipleField):
    """A multiple choice as checkboxes: usable on a phone and without JavaScript."""

    widget = widgets.ListWidget(prefix_label=False)
    option_widget = widgets.CheckboxInput()


class SegmentForm(FlaskForm):
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=120)])
    description = TextAreaField(_l("Description"), validators=[Optional(), Length(max=2000)])
    tiers = CheckboxListField(_l("Tiers"), choices=[])
    min_tier_rank = SelectField(_l("Minimum tier"), choices=[], validators=[Optional()])
    regions = LenientMultipleField(_l("Regions"), choices=[])
    locales = CheckboxListField(_l("Languages"), choices=[])
    active_within_days = IntegerField(_l("Active within (days)"), validators=[
        Optional(), NumberRange(min=1, max=MAX_DAYS)])
    has_email = BooleanField(_l("Only members with an e-mail address"))


for _i in METRIC_SLOTS:
    setattr(SegmentForm, f"metric_{_i}", SelectField(
        _l("Metric"), choices=[("", "—")] + [(k, v) for k, v in METRIC_LABELS.items()],
        validators=[Optional()]))
    setattr(SegmentForm, f"window_{_i}", SelectField(
        _l("Period"), choices=list(WINDOW_LABELS.items()), default="365"))
    setattr(SegmentForm, f"min_{_i}", IntegerField(_l("at least"), validators=[
        Optional(), NumberRange(min=1, max=10**9)]))


def build_form(*, tiers: list[tuple[str, int]], regions: list[str], locales: list[str],
               extras: list[tuple[str, Any]], **kwargs: Any) -> SegmentForm:
    """The form with its choices; `extras` are (name, label) of registered extra criteria."""
    class _Form(SegmentForm):
        pass

    for name, label in extras:
        setattr(_Form, f"extra_{name}", IntegerField(label, validators=[
            Optional(), NumberRange(min=1, max=MAX_DAYS)]))
    form = _Form(**kwargs)
    form.tiers.choices = [(name, name) for name, _rank in tiers]
    form.min_tier_rank.choices = [("", _l("any tier"))] + [
        (str(rank), f"{name} ({rank})") for name, rank in tiers]
    form.regions.choices = [(r, r) for r in regions]
    form.locales.choices = [(loc, loc) for loc in locales]
    # Keep saved values that the data no longer has visible, so saving does not drop them.
    for field in (form.tiers, form.regions, form.locales):
        offered = {value for value, _label in field.choices}
        field.choices += [(v, v) for v in (field.data or []) if v not in offered]
    form.extra_names = [name for name, _label in extras]
    return form


def form_to_criteria(form: SegmentForm) -> dict[str, Any]:
    """The form's values as criteria data (validated by rules.criteria_from_dict)."""
    data: dict[str, Any] = {
        "tiers": form.tiers.data or [],
        "regions": form.regions.data or [],
        "locales": form.locales.data or [],
        "has_email": bool(form.has_email.data),
        "metrics": [],
        "extra": {},
    }
    if form.min_tier_rank.data:
        data["min_tier_rank"] = int(form.min_tier_rank.data)
    if form.active_within_days.data is not None:
        data["active_within_days"] = form.active_within_days.data
    for i in METRIC_SLOTS:
        metric = getattr(form, f"metric_{i}").data
        minimum = getattr(form, f"min_{i}").data
        if metric and minimum is not None:
            data["metrics"].append({"metric": metric, "window": getattr(form, f"window_{i}").data,
                                    "min": minimum})
    for name in getattr(form, "extra_names", []):
        value = getattr(form, f"extra_{name}").data
        if value is not None:
            data["extra"][name] = value
    return data


def criteria_to_form(form: SegmentForm, criteria: dict[str, Any]) -> None:
    """Fill the form from saved criteria data (GET of the editor)."""
    form.tiers.data = list(criteria.get("tiers", []))
    rank = criteria.get("min_tier_rank")
    form.min_tier_rank.data = "" if rank is None else str(rank)
    form.regions.data = list(criteria.get("regions", []))
    form.locales.data = list(criteria.get("locales", []))
    form.active_within_days.data = criteria.get("active_within_days")
    form.has_email.data = bool(criteria.get("has_email"))
    for i, cond in zip(METRIC_SLOTS, criteria.get("metrics", []), strict=False):
        getattr(form, f"metric_{i}").data = cond["metric"]
        getattr(form, f"window_{i}").data = cond["window"]
        getattr(form, f"min_{i}").data = cond["min"]
    for name, value in (criteria.get("extra") or {}).items():
        field = getattr(form, f"extra_{name}", None)
        if field is not None:
            field.data = value
