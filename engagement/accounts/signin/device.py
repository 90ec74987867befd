"""Device cookies: "this browser signed in to this account before" (OWASP device cookies).

A successful password sign-in gives the browser a signed cookie naming the account and a
random nonce. Failed sign-ins are then counted per device for browsers that show a valid
cookie for the typed address, and per address for all others. A stranger who fails five
times locks out unknown browsers only; the owner's own browser still gets in.
"""
from __future__ import annotations

from flask import Response, current_app

from ... import signing

COOKIE = "login_device"
PATH = "/login"


def issue(response: Response, email: str) -> None:
    """Give the browser a device cookie for `email` (after a successful sign-in)."""
    days = int(current_app.config["LOGIN_DEVICE_DAYS"])
    token = signing.make("login-device", {"e": email, "n": signing.new_nonce()})
    response.set_cookie(COOKIE, token, max_age=days * 86400, path=PATH, httponly=True,
                        samesite="Lax", secure=bool(current_app.config["SESSION_COOKIE_SECURE"]))


def device_for(cookie: str | None, email: str) -> str | None:
    """The digest naming this browser's device cookie if it is genuine and for `email`."""
    if not cookie:
        return None
    days = int(current_app.config["LOGIN_DEVICE_DAYS"])
    try:
        data = signing.read("login-device", cookie, max_age=days * 86400)
    except signing.LinkInvalid:
        return None
    if not isinstance(data, dict) or data.get("e") != email or not isinstance(data.get("n"), str):
        return None
    return signing.token_digest(cookie)
