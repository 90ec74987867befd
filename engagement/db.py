"""Shared column types, query helpers and engine tuning every feature's models use."""
from __future__ import annotations

import enum
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from flask import Flask
from sqlalchemy import Enum, Integer, Numeric, Select, event, func, select
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session
from sqlalchemy.types import TypeDecorator

from .extensions import db as _sqla
from .timeutil import UTCDateTime

__all__ = ["ExactDecimal", "Money", "Page", "UTCDateTime", "checkpoint_after_commit",
           "checkpoint_wal", "configure_engines", "enum_column", "paginate"]


def enum_column(cls: type[enum.Enum], name: str, length: int = 16) -> Enum:
    """A column type storing an Enum by its values as plain strings.

    No native PostgreSQL enum: adding a state later is then not a type change.
    """
    return Enum(cls, name=name, native_enum=False, length=length, validate_strings=True,
                values_callable=lambda e: [m.value for m in e])


class _ScaledInteger(Integer):
    """SQLite storage of an ExactDecimal: a whole number of units, declared NUMERIC(p, s)."""

    def __init__(self, precision: int, scale: int):
        super().__init__()
        self.precision, self.scale = precision, scale


@compiles(_ScaledInteger, "sqlite")
def _scaled_integer_ddl(type_, compiler, **kw):
    return f"NUMERIC({type_.precision}, {type_.scale})"


class ExactDecimal(TypeDecorator):
    """An exact decimal with a fixed number of places, in every database.

    PostgreSQL stores NUMERIC(precision, scale). SQLite has no decimal type: a value bound
    to a NUMERIC column there is a binary float (0.01 is stored as 0.010000000000000000208
    and sums drift). So on SQLite the value is stored as a whole number of its smallest unit
    (cents for money) in the same NUMERIC(p, s) column: NUMERIC affinity keeps integers as
    integers, integer arithmetic is exact, so `SUM()` in the database stays exact, and no
    table has to be rebuilt. Python code only ever sees `Decimal`.
    """

    impl = Numeric
    cache_ok = True

    def __init__(self, precision: int = 12, scale: int = 2):
        super().__init__(precision=precision, scale=scale, asdecimal=True)
        self.precision, self.scale = precision, scale
        self._quantum = Decimal(1).scaleb(-scale)

    def load_dialect_impl(self, dialect: Dialect):
        if dialect.name == "sqlite":
            return dialect.type_descriptor(_ScaledInteger(self.precision, self.scale))
        return dialect.type_descriptor(Numeric(self.precision, self.scale, asdecimal=True))

    def _exact(self, value: Any) -> Decimal:
        if isinstance(value, float):
            value = repr(value)  # its shortest text, not its binary expansion
        amount = Decimal(value)
        rounded = amount.quantize(self._quantum, rounding=ROUND_HALF_UP)
        if rounded != amount:
            raise ValueError(f"{value!r} has more than {self.scale} decimal places")
        return rounded

    def process_bind_param(self, value: Any, dialect: Dialect):
        if value is None:
            return None
        amount = self._exact(value)
        return int(amount.scaleb(self.scale)) if dialect.name == "sqlite" else amount

    def process_result_value(self, value: Any, dialect: Dialect):
        if value is None:
            return None
        if dialect.name == "sqlite":
            # Whole units; a float only comes from arithmetic such as AVG() over them.
            units = Decimal(repr(value)) if isinstance(value, float) else Decimal(int(value))
            return units.scaleb(-self.scale).quantize(self._quantum, rounding=ROUND_HALF_UP)
        return Decimal(value).quantize(self._quantum)

    def coerce_compared_value(self, op, value):
        return self


def Money() -> ExactDecimal:  # noqa: N802 - reads like the type it returns
    """A EUR amount: exact, two places (cents on SQLite, NUMERIC(10, 2) elsewhere)."""
    return ExactDecimal(10, 2)


@dataclass(frozen=True)
class Page:
    """One page of a list: its rows, the total and where it sits among all pages."""

    items: list[Any]
    total: int
    page: int
    per_page: int

    @property
    def pages(self) -> int:
        return _last_page(self.total, self.per_page)

    @property
    def has_prev(self) -> bool:
        return self.page > 1

    @property
    def has_next(self) -> bool:
        return self.page < self.pages


def clamp_page(raw: Any, default: int = 1, high: int = 1_000_000) -> int:
    """A page number from user input: whole, at least 1, at most `high` (garbage -> 1)."""
    try:
        value = int(raw)
    except (TypeError, ValueError):
        return default
    return min(max(1, value), high)


def _last_page(total: int, per_page: int) -> int:
    return max(1, -(-total // per_page))


def paginate(session: Session, query: Select, *, page: int, per_page: int,
             scalars: bool = True, count: int | None = None,
             past_end_shows_last: bool = False) -> Page:
    """Rows `page` of `query` and the total row count (`count` if the caller knows it).

    `scalars=False` returns Row tuples for multi-column selects. `past_end_shows_last`:
    a page beyond the end shows the last page (pages in the UI), instead of no rows (API).
    """
    total = count if count is not None else session.scalar(
        select(func.count()).select_from(query.order_by(None).subquery())) or 0
    if past_end_shows_last:
        page = min(page, _last_page(int(total), per_page))
    limited = query.limit(per_page).offset((page - 1) * per_page)
    rows = list(session.scalars(limited) if scalars else session.execute(limited))
    return Page(items=rows, total=int(total), page=page, per_page=per_page)


def paginate_list(items: list[Any], *, page: int, per_page: int,
                  past_end_shows_last: bool = False) -> Page:
    """The same page arithmetic over a list already in memory."""
    if past_end_shows_last:
        page = min(page, _last_page(len(items), per_page))
    start = (page - 1) * per_page
    return Page(items=items[start:start + per_page], total=len(items), page=page,
                per_page=per_page)


CHECKPOINT_KEY = "engagement.wal_checkpoint"


def checkpoint_after_commit(session: Session) -> None:
    """Ask for a WAL checkpoint once this session's transaction commits.

    An erasure overwrites personal data in the database file (secure_delete), but the old
    page images stay in the SQLite write-ahead log until it is checkpointed; TRUNCATE
    copies them back and empties the log file. Nothing happens on other databases or on a
    rollback (the data is then still there legitimately).
    """
    session.info[CHECKPOINT_KEY] = True


def checkpoint_wal(engine: Any) -> bool:
    """Checkpoint the SQLite WAL into the database file and truncate it; False when a
    reader kept it from completing (or the database is not SQLite)."""
    if engine.dialect.name != "sqlite":
        return False
    with engine.connect() as conn:
        busy, _log, _done = conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)").one()
    return busy == 0


@event.listens_for(Session, "after_commit")
def _checkpoint_on_commit(session: Session) -> None:
    if session.info.pop(CHECKPOINT_KEY, False):
        checkpoint_wal(session.get_bind())


@event.listens_for(Session, "after_soft_rollback")
def _forget_checkpoint(session: Session, _previous) -> None:
    session.info.pop(CHECKPOINT_KEY, None)


def configure_engines(app: Flask) -> None:
    """Set SQLite pragmas on every connection: WAL, foreign keys, a busy timeout, and
    secure_delete (deleted and overwritten content is zeroed in the file, so an erased
    member's name does not linger in free pages)."""
    engine = _sqla.engine
    if engine.dialect.name != "sqlite":
        return

    @event.listens_for(engine, "connect")
    def _sqlite_pragmas(dbapi_connection, _record):
        cur = dbapi_connection.cursor()
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA busy_timeout=30000")  # writers queue instead of failing
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA secure_delete=ON")
        cur.close()
