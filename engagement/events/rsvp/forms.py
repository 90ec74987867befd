"""RSVP forms: the invitee's answer, a manager's answer on their behalf, event consents."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, RadioField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Regexp

from .rules import RsvpStatus


class RsvpForm(FlaskForm):
    """The invitee's answer; the event's questions and consents are read as q<id>/consent_<key>."""

    status = RadioField(_l("Your answer"), choices=[
        (RsvpStatus.ACCEPTED.value, _l("Yes, I will attend")),
        (RsvpStatus.TENTATIVE.value, _l("Maybe")),
        (RsvpStatus.DECLINED.value, _l("No, I cannot attend"))], validators=[DataRequired()])
    plus_one = BooleanField(_l("I bring a plus-one"))


class ManagerRsvpForm(FlaskForm):
    """A manager records an answer on a member's behalf (audited)."""

    status = SelectField(_l("Answer"), choices=[
        (RsvpStatus.ACCEPTED.value, _l("Accepted")), (RsvpStatus.TENTATIVE.value, _l("Tentative")),
        (RsvpStatus.DECLINED.value, _l("Declined"))], validators=[DataRequired()])


class ManagerAnswerForm(FlaskForm):
    """A manager's full answer on a member's behalf: answers, consents with how the member
    gave them, and a deliberate overbooking with its reason (all audited)."""

    status = SelectField(_l("Answer"), choices=[
        (RsvpStatus.ACCEPTED.value, _l("Accepted")), (RsvpStatus.TENTATIVE.value, _l("Tentative")),
        (RsvpStatus.DECLINED.value, _l("Declined"))], validators=[DataRequired()])
    plus_one = BooleanField(_l("Brings a plus-one"))
    consent_source = StringField(
        _l("How did the member give these consents?"), validators=[Length(max=160)],
        description=_l("For example “by phone on 3 May” or “signed form at the desk”. "
                       "Needed to record consents; stored with each one."))
    overbook = BooleanField(_l("Seat beyond capacity (overbook)"))
    overbook_reason = StringField(_l("Reason for overbooking"), validators=[Length(max=200)])


class ConsentForm(FlaskForm):
    """A consent the event asks for; changing the text makes a new version."""

    key = StringField(_l("Key"), validators=[DataRequired(), Regexp(r"^[a-z0-9_-]{1,64}$")])
    text = TextAreaField(_l("Consent text"), validators=[DataRequired(), Length(max=2000)])
    required = BooleanField(_l("Required to attend"))
