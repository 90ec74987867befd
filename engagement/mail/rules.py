"""Delivery rules as plain functions: retry backoff and how an SMTP answer is classified."""
from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import timedelta


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how patiently a message is retried."""

    max_attempts: int = 8
    base: timedelta = timedelta(minutes=1)
    cap: timedelta = timedelta(hours=1)

    def backoff(self, attempts: int) -> timedelta:
        """Wait after the `attempts`-th failed try: base, 2×base, 4×base, … capped."""
        if attempts < 1:
            return timedelta(0)
        # Cap the exponent first: 2**attempts would overflow timedelta for large counts.
        factor = 2 ** min(attempts - 1, 30)
        return min(self.base * factor, self.cap)

    def gives_up(self, attempts: int) -> bool:
        """True when no further attempt is allowed after `attempts` tries."""
        return attempts >= self.max_attempts


class Outcome(enum.StrEnum):
    SENT = "sent"
    RETRY = "retry"          # temporary: try again later, after a backoff
    PERMANENT = "permanent"  # this message will never go through as it is


def classify_smtp_code(code: int | None) -> Outcome:
    """RFC 5321: 2xx accepted, 4xx transient, 5xx permanent; no code (network) is transient."""
    if code is None:
        return Outcome.RETRY
    if 200 <= code < 300:
        return Outcome.SENT
    if 500 <= code < 600:
        return Outcome.PERMANENT
    return Outcome.RETRY


# Everything str.splitlines() breaks on (CR, LF, VT, FF, FS/GS/RS, NEL, LS, PS): some mail
# and calendar software ends a header line at any of them.
_BREAKS = frozenset("\r\n\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029")


def has_line_break(value: str) -> bool:
    """Header values must not contain line breaks or control characters (NUL, ESC...):
    they would let input add its own headers or end the header early."""
    return any(ch in _BREAKS or ch == "\x7f" or (ord(ch) < 32 and ch != "\t") for ch in value)
