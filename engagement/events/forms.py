"""Forms for events (with a questions editor that works without JavaScript) and inviting."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DateTimeLocalField,
    FieldList,
    Form,
    FormField,
    IntegerField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, Length, NumberRange, Optional, Regexp

from .rules import MAX_REMINDER_DAYS, ORGANIZER_EMAIL, common_zones

EMPTY_QUESTION_ROWS = 3
DT_FORMATS = ["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S"]


class QuestionForm(Form):
    """One question row; a row without a label is ignored."""

    label = StringField(_l("Question"), validators=[Optional(), Length(max=255)])
    kind = SelectField(_l("Answer"), choices=[("text", _l("Free text")),
                                              ("choice", _l("Choice"))], default="text")
    choices = StringField(_l("Choices (comma-separated)"), validators=[Optional(),
                                                                       Length(max=2000)])
    required = BooleanField(_l("Required"))


class EventForm(FlaskForm):
    title = StringField(_l("Title"), validators=[DataRequired(), Length(max=200)])
    description = TextAreaField(_l("Description"), validators=[Optional(), Length(max=20000)])
    venue = StringField(_l("Venue"), validators=[Optional(), Length(max=200)])
    address = TextAreaField(_l("Address"), validators=[Optional(), Length(max=2000)])
    starts_at = DateTimeLocalField(_l("Starts"), format=DT_FORMATS, validators=[DataRequired()])
    ends_at = DateTimeLocalField(_l("Ends"), format=DT_FORMATS, validators=[DataRequired()])
    timezone = SelectField(_l("Time zone"), default="Europe/Berlin")
    capacity = IntegerField(_l("Capacity"), validators=[Optional(), NumberRange(min=1)])
    rsvp_deadline = DateTimeLocalField(_l("RSVP deadline"), format=DT_FORMATS,
                                       validators=[Optional()])
    plus_one_allowed = BooleanField(_l("Guests may bring a plus-one"))
    per_attendee_cost = StringField(_l("Cost per attendee (EUR)"),
                                    validators=[Optional(), Length(max=20)])
    organizer_name = StringField(_l("Organizer name"), validators=[Optional(), Length(max=255)])
    organizer_email = StringField(_l("Organizer e-mail (receives calendar replies)"),
                                  validators=[DataRequired(), Regexp(ORGANIZER_EMAIL),
                                              Length(max=255)])
    reminder_days = IntegerField(_l("Reminder (days before)"),
                                 validators=[Optional(),
                                             NumberRange(min=1, max=MAX_REMINDER_DAYS)])
    questions = FieldList(FormField(QuestionForm), min_entries=EMPTY_QUESTION_ROWS,
                          max_entries=30)
    required_agreement_key = SelectField(_l("Agreement required before RSVP"), default="",
                                         validators=[Optional()])

    def __init__(self, *args, agreements: list[tuple[str, str]] | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.timezone.choices = [(z, z) for z in common_zones()]
        self.required_agreement_key.choices = [("", _l("— none —"))] + list(agreements or [])


class InviteForm(FlaskForm):
    """Invite picked members: ids or e-mail addresses, or ticked search results."""

    members = TextAreaField(_l("Member ids or e-mail addresses"),
                            validators=[Optional(), Length(max=200000)])


class SegmentInviteForm(FlaskForm):
    """Invite a saved segment or ad-hoc criteria (preview first)."""

    segment_id = SelectField(_l("Saved segment"), coerce=str, validators=[Optional()])
    tiers = StringField(_l("Tiers (comma-separated)"), validators=[Optional(), Length(max=2000)])
    regions = StringField(_l("Regions (comma-separated)"),
                          validators=[Optional(), Length(max=2000)])
    locales = StringField(_l("Languages (e.g. de, en)"), validators=[Optional(), Length(max=200)])
    active_within_days = IntegerField(_l("Active within (days)"),
                                      validators=[Optional(), NumberRange(min=1, max=36500)])
    attended_within_days = IntegerField(_l("Attended an event within (days)"),
                                        validators=[Optional(), NumberRange(min=1, max=36500)])
