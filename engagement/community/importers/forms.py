"""The import form: format, source and either uploaded files or a server path."""
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import MultipleFileField, SelectField, StringField
from wtforms.validators import DataRequired, Length, Optional, Regexp

FORMAT_LABELS = [
    ("csv", _l("CSV (members.csv, contributions.csv)")),
    ("stackexchange", _l("Stack Exchange data dump (Users.xml, Posts.xml, Votes.xml)")),
    ("discourse", _l("Discourse API pages (JSON)")),
    ("khoros", _l("Khoros LiQL results (JSON)")),
]


class ImportForm(FlaskForm):
    format = SelectField(_l("Format"), choices=FORMAT_LABELS, validators=[DataRequired()])
    source = StringField(_l("Source name"), validators=[
        Optional(), Length(max=32),
        Regexp(r"^[\w.-]+$", message=_l("Letters, digits, dot, dash and underscore only."))])
    files = MultipleFileField(_l("Files"))
    server_path = StringField(_l("Or a path on the server"),
                              validators=[Optional(), Length(max=1000)])
