"""Segment criteria: a frozen value with pure validation and a JSON round-trip.

A segment is a conjunction: a member belongs to it when every given condition holds.
Conditions that other features own (e.g. "attended an event within N days") live in
`extra` and are turned into SQL by filters those features register with the services.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

METRIC_NAMES = ("posts", "answers", "accepted_solutions", "kudos_received", "score")
WINDOW_NAMES = ("lifetime", "30", "90", "365")
MAX_METRIC_CONDITIONS = 3
MAX_LIST_ITEMS = 200  # regions/locales/tier names: a form never needs more
MAX_DAYS = 36500


class InvalidCriteria(ValueError):
    """The criteria cannot be used; the message says why (shown to the user)."""


@dataclass(frozen=True)
class MetricCondition:
    """At least `min_value` of `metric` in `window` (lifetime or the last 30/90/365 days)."""

    metric: str
    window: str
    min_value: int

    def to_dict(self) -> dict[str, Any]:
        return {"metric": self.metric, "window": self.window, "min": self.min_value}


@dataclass(frozen=True)
class SegmentCriteria:
    """The saved filter of a segment; empty criteria select every member."""

    tiers: tuple[str, ...] = ()
    min_tier_rank: int | None = None
    metrics: tuple[MetricCondition, ...] = ()
    regions: tuple[str, ...] = ()
    locales: tuple[str, ...] = ()
    active_within_days: int | None = None
    has_email: bool = False
    exclude_opted_out: bool = False
    # Conditions owned by other features, by registered name -> JSON value.
    extra: Mapping[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict; `criteria_from_dict(c.to_dict()) == c`."""
        data: dict[str, Any] = {}
        if self.tiers:
            data["tiers"] = list(self.tiers)
        if self.min_tier_rank is not None:
            data["min_tier_rank"] = self.min_tier_rank
        if self.metrics:
            data["metrics"] = [m.to_dict() for m in self.metrics]
        if self.regions:
            data["regions"] = list(self.regions)
        if self.locales:
            data["locales"] = list(self.locales)
        if self.active_within_days is not None:
            data["active_within_days"] = self.active_within_days
        if self.has_email:
            data["has_email"] = True
        if self.exclude_opted_out:
            data["exclude_opted_out"] = True
        if self.extra:
            data["extra"] = dict(sorted(self.extra.items()))
        return data

    def replace(self, **changes: Any) -> SegmentCriteria:
        """A copy with some fields changed (validated again)."""
        return criteria_from_dict({**self.to_dict(), **_changes_as_dict(changes)})

    @property
    def is_empty(self) -> bool:
        return not self.to_dict()


def _changes_as_dict(changes: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(changes)
    if "metrics" in out:
        out["metrics"] = [m.to_dict() if isinstance(m, MetricCondition) else m
                          for m in out["metrics"]]
    return out


def _int(value: Any, what: str, *, minimum: int, maximum: int | None = None) -> int:
    # bool is an int in Python; `True` as a threshold is a bug in the caller.
    if isinstance(value, bool):
        raise InvalidCriteria(f"{what} must be a whole number")
    if isinstance(value, str):
        value = value.strip()
        if not value.lstrip("-").isdigit():
            raise InvalidCriteria(f"{what} must be a whole number")
        value = int(value)
    if not isinstance(value, int):
        raise InvalidCriteria(f"{what} must be a whole number")
    if value < minimum or (maximum is not None and value > maximum):
        upper = f" and at most {maximum}" if maximum is not None else ""
        raise InvalidCriteria(f"{what} must be at least {minimum}{upper}")
    return value


def _strings(value: Any, what: str, *, max_len: int, lower: bool = False) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str) or not isinstance(value, Iterable):
        raise InvalidCriteria(f"{what} must be a list")
    items: list[str] = []
    for item in value:
        if not isinstance(item, str):
            raise InvalidCriteria(f"{what} must be a list of texts")
        item = item.strip()
        if lower:
            item = item.lower().replace("_", "-")
        if not item:
            continue
        if len(item) > max_len:
            raise InvalidCriteria(f"{what}: {item[:20]!r}… is too long")
        if item not in items:
            items.append(item)
    if len(items) > MAX_LIST_ITEMS:
        raise InvalidCriteria(f"{what}: at most {MAX_LIST_ITEMS} entries")
    return tuple(sorted(items))


def metric_condition(metric: Any, window: Any, min_value: Any) -> MetricCondition:
    """Validate one metric threshold."""
    if metric not in METRIC_NAMES:
        raise InvalidCriteria(f"unknown metric {metric!r} (use one of {', '.join(METRIC_NAMES)})")
    window = str(window) if isinstance(window, int) and not isinstance(window, bool) else window
    if window not in WINDOW_NAMES:
        raise InvalidCriteria(f"unknown window {window!r} (use one of {', '.join(WINDOW_NAMES)})")
    return MetricCondition(metric, window, _int(min_value, f"minimum {metric}", minimum=1))


def criteria_from_dict(data: Mapping[str, Any] | None) -> SegmentCriteria:
    """Validate plain JSON data (a saved segment, a form, an API body) into criteria."""
    if data is None:
        return SegmentCriteria()
    if not isinstance(data, Mapping):
        raise InvalidCriteria("criteria must be an object")
    known = {"tiers", "min_tier_rank", "metrics", "regions", "locales", "active_within_days",
             "has_email", "exclude_opted_out", "extra"}
    unknown = sorted(set(data) - known)
    if unknown:
        raise InvalidCriteria(f"unknown criteria: {', '.join(unknown)}")

    min_rank = data.get("min_tier_rank")
    metrics_raw = data.get("metrics") or []
    if not isinstance(metrics_raw, list):
        raise InvalidCriteria("metrics must be a list")
    if len(metrics_raw) > MAX_METRIC_CONDITIONS:
        raise InvalidCriteria(f"at most {MAX_METRIC_CONDITIONS} metric conditions")
    metrics: list[MetricCondition] = []
    for raw in metrics_raw:
        if not isinstance(raw, Mapping):
            raise InvalidCriteria("each metric condition must be an object")
        cond = metric_condition(raw.get("metric"), raw.get("window", "lifetime"), raw.get("min"))
        if any((m.metric, m.window) == (cond.metric, cond.window) for m in metrics):
            raise InvalidCriteria(f"{cond.metric} ({cond.window}) is given twice")
        metrics.append(cond)

    active = data.get("active_within_days")
    extra = data.get("extra") or {}
    if not isinstance(extra, Mapping) or not all(isinstance(k, str) for k in extra):
        raise InvalidCriteria("extra must be an object")
    for flag in ("has_email", "exclude_opted_out"):
        if not isinstance(data.get(flag, False), bool):
            raise InvalidCriteria(f"{flag} must be true or false")
    return SegmentCriteria(
        tiers=_strings(data.get("tiers"), "tiers", max_len=64),
        min_tier_rank=None if min_rank is None else _int(min_rank, "minimum tier rank",
                                                         minimum=-1_000_000),
        metrics=tuple(metrics),
        regions=_strings(data.get("regions"), "regions", max_len=64),
        locales=_strings(data.get("locales"), "languages", max_len=16, lower=True),
        active_within_days=None if active is None else _int(
            active, "active within days", minimum=1, maximum=MAX_DAYS),
        has_email=bool(data.get("has_email", False)),
        exclude_opted_out=bool(data.get("exclude_opted_out", False)),
        extra={k: extra[k] for k in sorted(extra) if extra[k] is not None},
    )


def locale_patterns(locale: str) -> tuple[str, str, str]:
    """A language matches its regional variants too: 'de' selects 'de', 'de-AT', 'de_AT'."""
    return locale, f"{locale}-%", f"{locale}_%"
