"""Time helpers: aware UTC datetimes everywhere, and a column type that keeps them aware."""
from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import DateTime
from sqlalchemy.types import TypeDecorator


def utcnow() -> datetime:
    """The current time as an aware UTC datetime."""
    return datetime.now(UTC)


def programme_zone(zone_name: str | None = None) -> ZoneInfo:
    """The programme's time zone: the given name, else the app's DEFAULT_TIMEZONE."""
    if zone_name is None:
        from flask import current_app

        zone_name = current_app.config["DEFAULT_TIMEZONE"]
    return ZoneInfo(zone_name)


def local_today(zone_name: str | None = None) -> date:
    """Today in the programme's time zone (the community's calendar day)."""
    return utcnow().astimezone(programme_zone(zone_name)).date()


def local_today_and_month_start(zone_name: str | None = None, now: datetime | None = None
                                ) -> tuple[date, datetime]:
    """Today and the start of this month in the programme's time zone (the start as UTC).

    "This month" on a dashboard is the programme's month: at 00:30 on the 1st in Berlin
    the new month has begun although it is still the 30th in UTC.
    """
    zone = programme_zone(zone_name)
    local = (now or utcnow()).astimezone(zone)
    month_start = datetime(local.year, local.month, 1, tzinfo=zone)
    return local.date(), month_start.astimezone(UTC)


def local_year(zone_name: str | None = None, now: datetime | None = None) -> int:
    """This calendar year in the programme's time zone (the tax and records year)."""
    return (now or utcnow()).astimezone(programme_zone(zone_name)).year


def year_bounds_utc(year: int, zone_name: str | None = None) -> tuple[datetime, datetime]:
    """The start of `year` and of the next year in the programme's time zone, as UTC.

    Half-open: a moment belongs to the year when start <= moment < end.
    """
    zone = programme_zone(zone_name)
    return (datetime(year, 1, 1, tzinfo=zone).astimezone(UTC),
            datetime(year + 1, 1, 1, tzinfo=zone).astimezone(UTC))


class UTCDateTime(TypeDecorator):
    """Stores aware datetimes as UTC; SQLite loses the offset, so it is put back on load."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given for a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)
