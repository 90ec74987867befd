"""Roles and the per-route permission map.

Every view declares who may call it with `@roles_required(...)` or `@public`; the
decorator records the roles on the function so a test can walk all routes x roles.
"""
from __future__ import annotations

import enum
from collections.abc import Callable
from functools import wraps

from flask import abort, g, request
from flask_login import current_user


class Role(enum.StrEnum):
    ADMIN = "admin"
    MANAGER = "manager"
    HR = "hr"
    MEMBER = "member"
    DOOR = "door"  # checks people in for the events assigned to them; nothing else


ALL_ROLES = frozenset(Role)
STAFF = frozenset({Role.ADMIN, Role.MANAGER, Role.HR})


def current_role() -> Role | None:
    """The role of whoever is calling: on the API only its bearer token, elsewhere the session.

    The API is CSRF-exempt, so it must never act on cookies: a hostile site can make a
    signed-in browser send them with a cross-site form POST.
    """
    if is_api_request():
        user = g.get("api_user")
    else:
        user = current_user if current_user.is_authenticated else None
    return Role(user.role) if user is not None else None


def is_api_request() -> bool:
    """True inside the JSON API (blueprint "api"), where only bearer tokens count."""
    return request.blueprint is not None and request.blueprint.startswith("api")



def roles_required(*roles: Role | str) -> Callable:
    """Allow the view to the given roles; admins are always allowed."""
    allowed = frozenset(Role(r) for r in roles) | {Role.ADMIN}

    def decorator(view: Callable) -> Callable:
        @wraps(view)
        def wrapper(*args, **kwargs):
            role = current_role()
            if role is None:
                if is_api_request():
                    abort(401)
                from .extensions import login_manager

                return login_manager.unauthorized()
            if role not in allowed:
                abort(403)
            return view(*args, **kwargs)

        wrapper.allowed_roles = allowed  # read by the route x role test
        return wrapper

    return decorator


def public(view: Callable) -> Callable:
    """Mark a view as reachable without login (login page, health check, signed links)."""
    view.allowed_roles = None
    return view
