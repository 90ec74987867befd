"""Loading saved API responses (JSON pages) with clear errors for damaged files."""
from __future__ import annotations

import json
from pathlib import Path

from ....web import JsonTooDeep, loads_bounded
from ..records import ImportSetupError
from .base import ByteCounter, open_counted


def load_json(path: Path, counter: ByteCounter | None = None):
    """The parsed page; ImportSetupError with file and line when it is not valid UTF-8 JSON."""
    try:
        if counter is None:
            raw = path.read_bytes()
        else:
            with open_counted(path, counter) as fh:
                raw = fh.read()
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise ImportSetupError("not valid UTF-8", file=path.name, line=line) from None
    try:
        return loads_bounded(text)
    except json.JSONDecodeError as exc:
        raise ImportSetupError(f"not valid JSON ({exc.msg}); the file may be truncated",
                               file=path.name, line=exc.lineno) from None
    except JsonTooDeep as exc:
        raise ImportSetupError(f"not usable JSON ({exc})", file=path.name, line=1) from None
