"""The `accounts` blueprint and the helpers both of its view modules use."""
from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, url_for

from ..security import Role
from .models import User

bp = Blueprint("accounts", __name__)


def safe_next(target: str | None) -> str | None:
    """`target` if it is a path on this site, else None."""
    # Only same-site paths: an open redirect would make phishing links look like ours.
    if not target:
        return None
    # Control characters would reach the Location header (a 500, or header injection where a
    # server is lax); a backslash is read as "/" by browsers, so "/\\evil" is "//evil".
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in target) or "\\" in target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return None
    return target


def home_for(user: User) -> str:
    """The page a user lands on after signing in."""
    if user.role == Role.MEMBER:
        return url_for("members.me")
    if user.role == Role.DOOR:
        return url_for("events.my_doors")
    return url_for("members.dashboard")
