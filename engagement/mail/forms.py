"""Forms of the mail pages (POST buttons carry only a CSRF token)."""
from flask_wtf import FlaskForm


class ActionForm(FlaskForm):
    """An empty form: a POST button (retry, cancel) protected by CSRF."""
