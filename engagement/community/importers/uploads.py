"""Uploaded import files: saved per run under `instance/imports/<id>/`, removed after use.

Uploads hold every member's name and address (erased members' too), so they are deleted
when their run ends, successful or not, unless IMPORT_UPLOAD_RETENTION_DAYS keeps them a
while for troubleshooting; folders older than that (a killed import's, or kept ones) are
purged whenever a new import starts. Server paths under IMPORT_ROOT are never touched.
"""
from __future__ import annotations

import shutil
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path


def uploads_root(instance_path: str | Path) -> Path:
    """The folder all upload folders live in."""
    return Path(instance_path) / "imports"


def new_upload_folder(instance_path: str | Path) -> Path:
    """A fresh folder for one run's uploads (created when the first file is saved)."""
    return uploads_root(instance_path) / uuid.uuid4().hex


def remove_upload_folder(instance_path: str | Path, paths: list[Path]) -> bool:
    """Delete the upload folder these files were saved in; False when they are not uploads."""
    root = uploads_root(instance_path).resolve()
    folders = {p.resolve().parent for p in paths}
    if len(folders) != 1:
        return False
    (folder,) = folders
    if folder.parent != root:  # a server path, or something outside the uploads
        return False
    shutil.rmtree(folder, ignore_errors=True)
    return True


def purge_old_uploads(instance_path: str | Path, *, now: datetime, days: int) -> int:
    """Delete upload folders last changed more than `days` ago; returns how many."""
    root = uploads_root(instance_path)
    if not root.is_dir():
        return 0
    cutoff = (now - timedelta(days=max(days, 0))).timestamp()
    removed = 0
    for folder in root.iterdir():
        if folder.is_dir() and not folder.is_symlink() and folder.stat().st_mtime < cutoff:
            shutil.rmtree(folder, ignore_errors=True)
            removed += 1
    return removed


def uploads_held(instance_path: str | Path) -> list[datetime]:
    """When each upload folder still held was last changed (oldest first)."""
    root = uploads_root(instance_path)
    if not root.is_dir():
        return []
    return sorted(datetime.fromtimestamp(folder.stat().st_mtime, UTC)
                  for folder in root.iterdir() if folder.is_dir() and not folder.is_symlink())
