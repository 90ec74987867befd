"""Small web helpers every feature's views share: the confirm button form, page numbers."""
from __future__ import annotations

from flask import abort, request
from flask_wtf import FlaskForm

from .db import clamp_page


class ConfirmForm(FlaskForm):
    """An empty form: a POST button protected by CSRF."""


def page_arg(name: str = "page") -> int:
    """The page number in the query string (1 when missing or garbled)."""
    return clamp_page(request.args.get(name))


def int_or_404(raw: object, high: int = 2**63 - 1) -> int:
    """A positive database id from a URL or form; 404 for anything else (huge ids too)."""
    try:
        value = int(str(raw))
    except (TypeError, ValueError):
        abort(404)
    if not 0 < value <= high:
        abort(404)
    return value
