"""Forms for tiers, score weights and manual overrides; rule errors in the user's language."""
from __future__ import annotations

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import IntegerField, SelectField, StringField, SubmitField, TextAreaField
from wtforms.fields import ColorField
from wtforms.validators import (
    DataRequired,
    InputRequired,
    Length,
    NumberRange,
    Optional,
    Regexp,
    ValidationError,
)

from . import rules
from .rules import RuleError, RuleErrorCode

_EXPECTED = {
    rules.EXPECT_CONDITION: _l("a metric or “(”"),
    rules.EXPECT_OPERATOR: _l("a comparison (>=, >, <=, <, ==)"),
    rules.EXPECT_NUMBER: _l("a whole number"),
    rules.EXPECT_CLOSE: _l("“)”"),
    rules.EXPECT_WINDOW_CLOSE: _l("“]”"),
    rules.EXPECT_CONTINUATION: _l("“and”, “or” or the end of the rule"),
}


def rule_error_message(error: RuleError) -> str:
    """The parser's complaint, translated, with the position for the editor."""
    p = error.params
    found = p.get("found", "")
    if found == "the end of the rule":
        found = _("the end of the rule")
    match error.code:
        case RuleErrorCode.EMPTY:
            text = _("The rule is empty; write a condition such as answers >= 100.")
        case RuleErrorCode.TOO_LONG:
            text = _("The rule is too long (at most %(n)s characters).", n=rules.MAX_RULE_LENGTH)
        case RuleErrorCode.EXPECTED:
            text = _("Expected %(expected)s, found %(found)s.",
                     expected=_EXPECTED.get(p["expected"], p["expected"]), found=found)
        case RuleErrorCode.UNKNOWN_METRIC:
            text = _("Unknown metric %(found)s; use one of %(metrics)s.", found=found,
                     metrics=", ".join(rules.METRICS))
        case RuleErrorCode.BAD_WINDOW:
            text = _("The window %(found)s is not kept; use one of %(windows)s.", found=found,
                     windows=", ".join(f"[{w}d]" for w in rules.RULE_WINDOWS))
        case RuleErrorCode.NO_WINDOW:
            text = _("tenure_days has no window.")
        case RuleErrorCode.TOO_DEEP:
            text = _("The rule is nested too deeply (at most %(n)s parentheses).",
                     n=rules.MAX_NESTING)
        case _:
            text = _("%(found)s is not a whole number.", found=found)
    return _("Position %(pos)s: %(text)s", pos=error.position, text=text)


class TierForm(FlaskForm):
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=64)])
    rank = IntegerField(_l("Rank (higher is better)"),
                        validators=[InputRequired(), NumberRange(min=0, max=1_000_000)])
    color = ColorField(_l("Colour"), default="#64748b", validators=[
        InputRequired(), Regexp(r"^#[0-9a-fA-F]{6}$", message=_l("Use a colour like #be185d."))])
    grace_days = IntegerField(_l("Grace period before demotion (days)"), default=90,
                              validators=[InputRequired(), NumberRange(min=0, max=3650)])
    description = TextAreaField(_l("Description"), validators=[Optional(), Length(max=2000)])
    rule = TextAreaField(_l("Rule"), validators=[DataRequired(), Length(max=rules.MAX_RULE_LENGTH)])
    preview = SubmitField(_l("Preview"))
    save = SubmitField(_l("Save tier"))

    def validate_rule(self, field) -> None:
        try:
            rules.parse_rule(field.data or "")
        except RuleError as exc:
            raise ValidationError(rule_error_message(exc)) from None


class WeightsForm(FlaskForm):
    posts = IntegerField(_l("Points per post"), validators=[InputRequired(),
                                                            NumberRange(min=0, max=1000)])
    answers = IntegerField(_l("Points per answer"), validators=[InputRequired(),
                                                                NumberRange(min=0, max=1000)])
    accepted_solutions = IntegerField(_l("Points per accepted solution"),
                                      validators=[InputRequired(), NumberRange(min=0, max=1000)])
    kudos_received = IntegerField(_l("Points per kudo received"),
                                  validators=[InputRequired(), NumberRange(min=0, max=1000)])


class OverrideForm(FlaskForm):
    tier = SelectField(_l("Tier"), choices=[], validate_choice=True)
    reason = TextAreaField(_l("Reason"), validators=[DataRequired(), Length(max=1000)])
