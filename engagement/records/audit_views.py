"""Audit log viewer for HR: filters, newest first, and the hash-chain check on demand."""
from __future__ import annotations

import json
from datetime import UTC, date, datetime, time, timedelta

from flask import render_template, request
from sqlalchemy import select

from ..audit import AuditEntry, verify
from ..db import clamp_page, paginate
from ..extensions import db
from ..security import Role, roles_required
from . import bp

PAGE_SIZE = 50


def _date_arg(name: str) -> date | None:
    raw = (request.values.get(name) or "").strip()
    try:
        return date.fromisoformat(raw) if raw else None
    except ValueError:
        return None


def _filtered():
    """The filtered query and the filter values as shown back in the form."""
    f = {k: (request.values.get(k) or "").strip()[:255]
         for k in ("entry", "actor", "action", "object_type", "object_id")}
    query = select(AuditEntry)
    if f["entry"]:
        entry_id = int(f["entry"]) if f["entry"].isdigit() and len(f["entry"]) < 10 else -1
        query = query.where(AuditEntry.id == entry_id)
    if f["actor"]:
        query = query.where(AuditEntry.actor.contains(f["actor"], autoescape=True))
    if f["action"]:
        query = query.where(AuditEntry.action == f["action"])
    if f["object_type"]:
        query = query.where(AuditEntry.object_type == f["object_type"])
    if f["object_id"]:
        query = query.where(AuditEntry.object_id == f["object_id"])
    start, end = _date_arg("from"), _date_arg("to")
    if start:
        query = query.where(AuditEntry.at >= datetime.combine(start, time.min, UTC))
    if end:
        until = datetime.combine(end + timedelta(days=1), time.min, UTC)
        query = query.where(AuditEntry.at < until)
    f["from"] = start.isoformat() if start else ""
    f["to"] = end.isoformat() if end else ""
    return query, f


def _render(result=None):
    query, filters = _filtered()
    # Keyset-free paging is fine here: HR filters first, and the id index orders it.
    shown = paginate(db.session, query.order_by(AuditEntry.id.desc()),
                     page=clamp_page(request.values.get("page")), per_page=PAGE_SIZE)
    return render_template(
        "records/audit.html", entries=shown.items, has_next=shown.has_next,
        page=shown.page, filters=filters, result=result, pretty=_pretty,
    )


def _pretty(value) -> str:
    """Readable JSON for the before/after columns (autoescaped by the template)."""
    if value is None:
        return "—"
    return json.dumps(value, indent=1, sort_keys=True, ensure_ascii=False)


@bp.route("/records/audit")
@roles_required(Role.HR)
def audit_log():
    return _render()


@bp.route("/records/audit/verify", methods=["POST"])
@roles_required(Role.HR)
def audit_verify():
    # Verification walks the whole chain, so it runs only when HR asks for it.
    return _render(result=verify(db.session))
