"""Forms of the records pages."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import IntegerField, StringField
from wtforms.validators import InputRequired, Length, NumberRange

from .volunteer.services import MAX_MINUTES


class MinutesForm(FlaskForm):
    per_answer = IntegerField(_l("Minutes per answer"), validators=[
        InputRequired(), NumberRange(min=0, max=MAX_MINUTES)])
    per_accepted = IntegerField(_l("Minutes more per accepted solution"), validators=[
        InputRequired(), NumberRange(min=0, max=MAX_MINUTES)])
    basis = StringField(_l("Basis of the estimate (e.g. time study, works agreement)"),
                        validators=[Length(max=500)])
