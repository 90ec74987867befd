"""The mailing composer form."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import HiddenField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional

from .rules import MAX_BODY, MAX_SUBJECT


class MailingForm(FlaskForm):
    segment_id = SelectField(_l("Segment"), choices=[], validators=[Optional()])
    # Ad-hoc criteria (JSON) from the segment editor's preview, when no segment is chosen.
    criteria = HiddenField()
    subject = StringField(_l("Subject"), validators=[DataRequired(), Length(max=MAX_SUBJECT)])
    body = TextAreaField(_l("Text (Markdown)"), validators=[DataRequired(),
                                                           Length(max=MAX_BODY)])
