"""Small web helpers every feature's views share: the confirm button form, page numbers,
ids from URLs and JSON from untrusted input."""
from __future__ import annotations

import json
from typing import Any

from flask import abort, request
from flask_wtf import FlaskForm
from werkzeug.exceptions import NotFound
from werkzeug.routing import IntegerConverter

from .db import clamp_page

MAX_ID = 2**63 - 1  # the widest id column (BIGINT); SQLite cannot even bind a larger int


class BoundedIntConverter(IntegerConverter):
    """`<int:...>` that answers 404 for numbers past MAX_ID instead of a view handing 10**30
    to the database (an OverflowError, a 500).

    NotFound rather than werkzeug's ValidationError: with a GET and a PATCH rule on one path,
    a ValidationError turns into a misleading 405 for the second method."""

    def to_python(self, value: str) -> int:
        number = super().to_python(value)
        if isinstance(number, int) and number > MAX_ID:
            raise NotFound()
        return number


class ConfirmForm(FlaskForm):
    """An empty form: a POST button protected by CSRF."""


def page_arg(name: str = "page") -> int:
    """The page number in the query string (1 when missing or garbled)."""
    return clamp_page(request.args.get(name))


def int_or_404(raw: object, high: int = MAX_ID) -> int:
    """A positive database id from a URL or form; 404 for anything else (huge ids too)."""
    try:
        value = int(str(raw))
    except (TypeError, ValueError):
        abort(404)
    if not 0 < value <= high:
        abort(404)
    return value


MAX_JSON_DEPTH = 64  # API bodies and saved Khoros/Discourse pages nest a handful of levels


class JsonTooDeep(ValueError):
    """JSON nested deeper than MAX_JSON_DEPTH (a RecursionError waiting to happen)."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"nested more than {limit} levels deep")


def loads_bounded(raw: str | bytes, max_depth: int = MAX_JSON_DEPTH) -> Any:
    """`json.loads` for text from outside: ValueError for bad JSON, JsonTooDeep for deep nesting.

    The C decoder recurses once per level and would raise RecursionError (a 500) long before
    any of our code sees the value; code that walks the value recursively is protected by the
    depth check afterwards.
    """
    try:
        value = json.loads(raw)
    except RecursionError:
        raise JsonTooDeep(max_depth) from None
    stack = [(value, 1)]
    while stack:  # iterative on purpose: this is the check against deep recursion
        item, depth = stack.pop()
        if isinstance(item, dict | list):
            if depth > max_depth:
                raise JsonTooDeep(max_depth)
            children = item.values() if isinstance(item, dict) else item
            stack.extend((child, depth + 1) for child in children
                         if isinstance(child, dict | list))
    return value
