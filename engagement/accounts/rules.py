"""Pure rules for accounts: login throttling and token format."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

TOKEN_PREFIX = "eng_"


@dataclass(frozen=True)
class Throttle:
    max_failures: int
    max_failures_per_ip: int
    window: timedelta


class LoginThrottled(Exception):
    """Too many failed logins; `retry_after` seconds until the oldest failure expires."""

    def __init__(self, retry_after: int):
        super().__init__(f"too many failed logins, retry in {retry_after} s")
        self.retry_after = retry_after


def check_throttle(
    failures_for_email: list[datetime], failures_for_ip: list[datetime],
    now: datetime, throttle: Throttle,
) -> None:
    """Raise LoginThrottled when either the address or the client is over its limit."""
    since = now - throttle.window
    for failures, limit in (
        (failures_for_email, throttle.max_failures),
        (failures_for_ip, throttle.max_failures_per_ip),
    ):
        recent = sorted(t for t in failures if t > since)
        if len(recent) >= limit:
            # Unlocks when the oldest failure counted against the limit leaves the window.
            oldest = recent[len(recent) - limit]
            raise LoginThrottled(max(1, int((oldest + throttle.window - now).total_seconds())))
