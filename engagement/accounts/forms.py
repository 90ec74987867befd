"""Forms for login, users and API tokens."""
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, EmailField, IntegerField, PasswordField, SelectField, StringField
from wtforms.validators import DataRequired, Email, Length, Optional

from ..security import Role

ROLE_CHOICES = [(r.value, r.value) for r in Role]
LOCALE_CHOICES = [("", "—"), ("de", "Deutsch"), ("en", "English")]


class LoginForm(FlaskForm):
    email = EmailField(_l("E-mail"), validators=[DataRequired(), Length(max=255)])
    password = PasswordField(_l("Password"), validators=[DataRequired()])
    remember = BooleanField(_l("Stay signed in"))


class UserForm(FlaskForm):
    email = EmailField(_l("E-mail"), validators=[DataRequired(), Email(check_deliverability=False),
                                                 Length(max=255)])
    name = StringField(_l("Name"), validators=[Optional(), Length(max=255)])
    role = SelectField(_l("Role"), choices=ROLE_CHOICES)
    locale = SelectField(_l("Language"), choices=LOCALE_CHOICES)
    member_id = IntegerField(_l("Linked member (id)"), validators=[Optional()])
    password = PasswordField(_l("New password"), validators=[Optional(), Length(min=10)])
    active = BooleanField(_l("Active"), default=True)


class TokenForm(FlaskForm):
    name = StringField(_l("Token name"), validators=[DataRequired(), Length(max=100)])

