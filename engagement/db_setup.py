"""Engine tuning per backend (SQLite pragmas for safe concurrent use)."""
from __future__ import annotations

from flask import Flask
from sqlalchemy import event

from .extensions import db


def configure_engines(app: Flask) -> None:
    """Set SQLite pragmas on every connection: WAL, foreign keys, a busy timeout."""
    engine = db.engine
    if engine.dialect.name != "sqlite":
        return

    @event.listens_for(engine, "connect")
    def _sqlite_pragmas(dbapi_connection, _record):
        cur = dbapi_connection.cursor()
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA busy_timeout=30000")  # writers queue instead of failing
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.close()
