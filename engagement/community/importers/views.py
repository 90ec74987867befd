"""Import pages: list of runs, a form to start one, and a self-refreshing status page."""
from __future__ import annotations

import threading
from pathlib import Path

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    stream_with_context,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select
from werkzeug.utils import secure_filename

from ...db import paginate
from ...extensions import db
from ...security import Role, roles_required
from ...timeutil import utcnow
from ...web import page_arg
from ..models import ImportRun
from .forms import ImportForm
from .records import ImportSetupError
from .services import (
    issue_page,
    issues_csv,
    normalise_source,
    plan_import,
    refresh_window_stats_after_import,
    run_details,
    run_import,
    shown_state,
    start_run,
)
from .uploads import new_upload_folder, purge_old_uploads, remove_upload_folder

bp = Blueprint("imports", __name__)
RUNS_PER_PAGE = 50


@bp.route("/imports")
@roles_required(Role.MANAGER)
def index():
    runs = paginate(db.session, select(ImportRun).order_by(ImportRun.id.desc()),
                    page=page_arg(), per_page=RUNS_PER_PAGE)
    return render_template("community/imports/index.html", runs=runs.items, page=runs.page,
                           pages=runs.pages, total=runs.total, state=shown_state)


MAX_SERVER_PATH = 1024


def _server_paths(raw: str) -> list[Path]:
    """The path, if it lies inside IMPORT_ROOT (symlinks resolved); else ImportSetupError."""
    root = current_app.config["IMPORT_ROOT"]
    if not root:
        raise ImportSetupError(_("Server paths are disabled (IMPORT_ROOT is not configured)."))
    raw = raw.strip()
    # A NUL makes os.stat raise ValueError (a 500); other control characters have no place
    # in a folder name a manager types.
    if len(raw) > MAX_SERVER_PATH or any(ord(ch) < 32 or ord(ch) == 127 for ch in raw):
        raise ImportSetupError(_("The path contains control characters or is too long."))
    root_path = Path(root).resolve()
    target = (root_path / raw).resolve()
    _check_inside(root_path, target)
    if not target.exists():
        raise ImportSetupError(_("The path %(path)s does not exist.", path=raw))
    if target.is_dir():  # the readers take the files inside: none may be a link leading out
        for entry in target.iterdir():
            _check_inside(root_path, entry)
    return [target]


def _check_inside(root_path: Path, path: Path) -> None:
    """ImportSetupError unless the real path (every symlink followed) lies in the root."""
    real = path.resolve()
    if real != root_path and root_path not in real.parents:
        raise ImportSetupError(_("The path must lie inside the import folder %(root)s.",
                                 root=str(root_path)))


def _save_uploads(files) -> list[Path]:
    folder = new_upload_folder(current_app.instance_path)
    saved = []
    for storage in files:
        name = secure_filename(storage.filename or "")
        if not name:
            continue
        folder.mkdir(parents=True, exist_ok=True)
        target = folder / name
        storage.save(target)
        saved.append(target)
    return saved


@bp.route("/imports/new", methods=["GET", "POST"])
@roles_required(Role.MANAGER)
def new():
    form = ImportForm()
    if form.validate_on_submit():
        uploads = [f for f in (form.files.data or []) if getattr(f, "filename", "")]
        fmt = form.format.data
        purge_old_uploads(current_app.instance_path, now=utcnow(),
                          days=current_app.config["IMPORT_UPLOAD_RETENTION_DAYS"])
        paths: list[Path] = []
        try:
            if uploads and form.server_path.data:
                raise ImportSetupError(_("Upload files or give a server path, not both."))
            if form.server_path.data:
                paths = _server_paths(form.server_path.data)
            elif uploads:
                paths = _save_uploads(uploads)
            else:
                raise ImportSetupError(_("Choose files to upload or give a server path."))
            source = normalise_source(fmt, form.source.data or None)
            plan = plan_import(paths, fmt)
            if form.server_path.data:  # what the reader chose, checked once more
                root_path = Path(current_app.config["IMPORT_ROOT"]).resolve()
                for file in plan.files:
                    _check_inside(root_path, file)
        except ImportSetupError as exc:
            if uploads:
                remove_upload_folder(current_app.instance_path, paths)
            flash(str(exc), "error")
            return render_template("community/imports/new.html", form=form), 400
        actor = f"{current_user.role}:{current_user.email}"
        run = start_run(db.session, plan, fmt, source, actor)
        _start_background(run.id, paths, fmt, actor, uploaded=bool(uploads))
        flash(_("Import started."), "success")
        return redirect(url_for("imports.show", run_id=run.id))
    return render_template("community/imports/new.html", form=form,
                           import_root=current_app.config["IMPORT_ROOT"])


def _start_background(run_id: int, paths: list[Path], fmt: str, actor: str, *,
                      uploaded: bool = False) -> None:
    """Run the import in a thread with its own app context and session.

    Uploaded files are deleted when the run ends, successful or not (unless kept for
    IMPORT_UPLOAD_RETENTION_DAYS; see uploads.py).
    """
    app = current_app._get_current_object()
    keep_days = app.config["IMPORT_UPLOAD_RETENTION_DAYS"]

    def work() -> None:
        with app.app_context():
            session = db.session
            try:
                run = session.get(ImportRun, run_id)
                run = run_import(session, paths, fmt, run=run, actor=actor)
                if run.status == "completed":
                    refresh_window_stats_after_import(session)
                    session.commit()
            except Exception:  # the run row already says 'failed'; keep the worker quiet
                app.logger.exception("background import %s failed", run_id)
                session.rollback()
            finally:
                db.session.remove()
                if uploaded and keep_days <= 0:
                    remove_upload_folder(app.instance_path, paths)

    threading.Thread(target=work, name=f"import-{run_id}", daemon=True).start()


@bp.route("/imports/<int:run_id>")
@roles_required(Role.MANAGER)
def show(run_id: int):
    run = db.session.get(ImportRun, run_id) or abort(404)
    issues = issue_page(db.session, run.id, page_arg())
    state = shown_state(run)
    percent = (run.bytes_done / run.bytes_total) if run.bytes_total else (
        1.0 if state == "completed" else 0.0)
    return render_template("community/imports/show.html", run=run, state=state,
                           issues=issues, details=run_details(db.session, run),
                           percent=min(1.0, percent))


@bp.route("/imports/<int:run_id>/issues.csv")
@roles_required(Role.MANAGER)
def issues_download(run_id: int):
    run = db.session.get(ImportRun, run_id) or abort(404)
    lines = issues_csv(db.session, run.id)
    return Response(stream_with_context(lines), mimetype="text/csv; charset=utf-8",
                    headers={"Content-Disposition":
                             f'attachment; filename="import-{run.id}-rejected-rows.csv"'})
