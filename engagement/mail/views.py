"""Outbox pages: delivery status, failures with their error, retry; the .eml folder."""
from __future__ import annotations

import email
import email.policy
import re
from dataclasses import dataclass
from email.message import EmailMessage
from email.parser import BytesHeaderParser
from pathlib import Path

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext
from sqlalchemy import select

from ..db import clamp_page, paginate, paginate_list
from ..extensions import db
from ..security import Role, roles_required
from . import outbox
from .delivery import mail_folder, uses_smtp
from .forms import ActionForm
from .models import OutboxMessage, OutboxStatus

bp = Blueprint("mail", __name__, url_prefix="/mail")

PER_PAGE = 50
# Only names the file backend writes: nothing else in (or outside) the folder is served.
EML_NAME = re.compile(r"^\d{8}T\d{6}Z-\d{10}\.eml$")
STATUS_LABELS = {
    OutboxStatus.QUEUED: _l("queued"),
    OutboxStatus.SENDING: _l("sending"),
    OutboxStatus.SENT: _l("sent"),
    OutboxStatus.FAILED: _l("failed"),
    OutboxStatus.CANCELLED: _l("cancelled"),
}


@dataclass(frozen=True)
class Part:
    depth: int
    content_type: str
    filename: str | None
    size: int


@dataclass(frozen=True)
class MessageView:
    headers: list[tuple[str, str]]
    parts: list[Part]
    text: str | None


def parse_for_display(raw: bytes) -> MessageView:
    """Headers, MIME tree and plain-text body of a stored message (HTML is never rendered)."""
    msg: EmailMessage = email.message_from_bytes(raw, policy=email.policy.default)
    parts: list[Part] = []

    def walk(part, depth: int) -> None:
        payload = b"" if part.is_multipart() else (part.get_payload(decode=True) or b"")
        parts.append(Part(depth, part.get_content_type(), part.get_filename(), len(payload)))
        if part.is_multipart():
            for sub in part.iter_parts():
                walk(sub, depth + 1)

    walk(msg, 0)
    body = msg.get_body(preferencelist=("plain",))
    try:
        text = body.get_content() if body is not None else None
    except (LookupError, UnicodeError):
        text = None
    return MessageView([(k, str(v)) for k, v in msg.items()], parts, text)


def _page_arg() -> int:
    return clamp_page(request.args.get("page"))


@bp.route("/outbox")
@roles_required(Role.MANAGER)
def index():
    counts = outbox.status_counts(db.session)
    status = request.args.get("status", "")
    if status not in counts:
        status = ""
    to = (request.args.get("to") or "").strip()[:320]
    query = select(OutboxMessage.id, OutboxMessage.kind, OutboxMessage.to_addr,
                   OutboxMessage.subject, OutboxMessage.status, OutboxMessage.attempts,
                   OutboxMessage.next_attempt_at, OutboxMessage.sent_at,
                   OutboxMessage.last_error, OutboxMessage.created_at)
    if status:
        query = query.where(OutboxMessage.status == status)
    if to:
        query = query.where(OutboxMessage.to_addr.startswith(to, autoescape=True))
    # Without an address filter the status counts (shown anyway) give the total for free.
    known = None if to else (counts[status] if status else sum(counts.values()))
    result = paginate(db.session, query.order_by(OutboxMessage.id.desc()), page=_page_arg(),
                      per_page=PER_PAGE, scalars=False, count=known)
    return render_template(
        "mail/outbox.html", counts=counts, status=status, to=to, rows=result.items,
        page=result.page, pages=result.pages, total=result.total, labels=STATUS_LABELS,
        form=ActionForm(),
        smtp=uses_smtp(current_app.config))


def _message_or_404(message_id: int) -> OutboxMessage:
    return db.session.get(OutboxMessage, message_id) or abort(404)


@bp.route("/outbox/<int:message_id>")
@roles_required(Role.MANAGER)
def show(message_id: int):
    row = _message_or_404(message_id)
    view = parse_for_display(row.raw) if row.raw is not None else None
    if view is not None and outbox.is_confidential(row.kind):
        view = MessageView(view.headers, view.parts, None)
    return render_template("mail/message.html", row=row, view=view,
                           confidential=outbox.is_confidential(row.kind),
                           labels=STATUS_LABELS, form=ActionForm(),
                           raw_url=url_for("mail.raw", message_id=row.id))


@bp.route("/outbox/<int:message_id>/raw")
@roles_required(Role.MANAGER)
def raw(message_id: int):
    row = _message_or_404(message_id)
    if row.raw is None:
        abort(404)  # deferred: not rendered yet
    if outbox.is_confidential(row.kind):
        abort(403)  # a sign-in link belongs to its recipient only
    return Response(row.raw, mimetype="message/rfc822", headers={
        "Content-Disposition": f'attachment; filename="message-{row.id}.eml"'})


@bp.route("/outbox/<int:message_id>/retry", methods=["POST"])
@roles_required(Role.MANAGER)
def retry(message_id: int):
    if not ActionForm().validate_on_submit():
        abort(400)
    _message_or_404(message_id)
    if outbox.retry(db.session, message_id):
        flash(_("The message is queued again."), "success")
    else:
        flash(_("Only failed or cancelled messages can be retried."), "error")
    if request.form.get("back") == "list":
        return redirect(url_for("mail.index", status=OutboxStatus.FAILED.value))
    return redirect(url_for("mail.show", message_id=message_id))


@bp.route("/outbox/<int:message_id>/cancel", methods=["POST"])
@roles_required(Role.MANAGER)
def cancel(message_id: int):
    if not ActionForm().validate_on_submit():
        abort(400)
    _message_or_404(message_id)
    if outbox.cancel(db.session, message_id):
        flash(_("The message was cancelled and will not be sent."), "success")
    else:
        flash(_("Only queued or failed messages can be cancelled."), "error")
    return redirect(url_for("mail.show", message_id=message_id))


@bp.route("/outbox/retry-failed", methods=["POST"])
@roles_required(Role.MANAGER)
def retry_failed():
    if not ActionForm().validate_on_submit():
        abort(400)
    n = outbox.retry_all_failed(db.session)
    flash(ngettext("%(num)d failed message queued again.",
                   "%(num)d failed messages queued again.", n), "success" if n else "info")
    return redirect(url_for("mail.index"))


@dataclass(frozen=True)
class EmlFile:
    name: str
    subject: str
    to: str
    date: str
    size: int


def _eml_names(folder: Path) -> list[str]:
    try:
        return sorted((n for n in (e.name for e in folder.iterdir()) if EML_NAME.match(n)),
                      reverse=True)
    except FileNotFoundError:
        return []


def _eml_path(name: str) -> Path:
    folder = mail_folder()
    # The name must be one we write AND be listed in the folder: no traversal, no symlink games.
    if not EML_NAME.match(name) or name not in _eml_names(folder):
        abort(404)
    path = folder / name
    if not path.is_file():
        abort(404)
    return path


@bp.route("/files")
@roles_required(Role.ADMIN)
def files():
    folder = mail_folder()
    result = paginate_list(_eml_names(folder), page=_page_arg(), per_page=PER_PAGE)
    entries = []
    parser = BytesHeaderParser(policy=email.policy.default)
    for name in result.items:
        path = folder / name
        try:
            with path.open("rb") as fh:
                headers = parser.parse(fh)
            size = path.stat().st_size
        except OSError:
            continue  # removed meanwhile
        entries.append(EmlFile(name, str(headers["Subject"] or ""), str(headers["To"] or ""),
                               str(headers["Date"] or ""), size))
    return render_template("mail/files.html", entries=entries, total=result.total,
                           page=result.page, pages=result.pages, folder=str(folder),
                           smtp=uses_smtp(current_app.config))


@bp.route("/files/<name>")
@roles_required(Role.ADMIN)
def file(name: str):
    path = _eml_path(name)
    return render_template("mail/message.html", row=None, name=name,
                           view=parse_for_display(path.read_bytes()), labels=STATUS_LABELS,
                           form=ActionForm(), raw_url=url_for("mail.file_raw", name=name))


@bp.route("/files/<name>/raw")
@roles_required(Role.ADMIN)
def file_raw(name: str):
    path = _eml_path(name)
    return Response(path.read_bytes(), mimetype="message/rfc822", headers={
        "Content-Disposition": f'attachment; filename="{name}"'})
