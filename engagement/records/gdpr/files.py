"""Mail files an erasure removes: .eml files written without an SMTP server.

The file backend names each file `<created>-<outbox id>.eml` (mail/delivery.py), so the
member's files are found by the ids of their outbox rows, never by reading the files for
a name or address.
"""
from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from flask import current_app, has_app_context


def mail_file_dir() -> Path | None:
    """The folder .eml files are written to (None outside an app or when unset)."""
    if not has_app_context():
        return None
    folder = current_app.config.get("MAIL_FILE_DIR")
    return Path(folder) if folder else None


def delete_mail_files(folder: Path | None, outbox_ids: Iterable[int]) -> int:
    """Delete the .eml files of these outbox rows; returns how many were removed."""
    if folder is None or not folder.is_dir():
        return 0
    removed = 0
    for outbox_id in outbox_ids:
        for path in folder.glob(f"*-{int(outbox_id):010d}.eml"):
            path.unlink(missing_ok=True)
            removed += 1
    return removed
