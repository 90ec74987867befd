"""Query-string parsing shared by the list endpoints (`?page=&per_page=`, SPEC §4a) and the
list answer's envelope."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask import request

from .errors import ApiError

DEFAULT_PER_PAGE = 50
MAX_PER_PAGE = 500
MAX_PAGE = 1_000_000  # keeps OFFSET arithmetic sane; no real list is that long


@dataclass(frozen=True)
class Page:
    page: int
    per_page: int

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.per_page


def _int_arg(name: str, default: int, low: int, high: int) -> int:
    raw = request.args.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = int(raw.strip())
    except ValueError:
        raise ApiError(400, f"{name} must be a whole number, got {raw!r}",
                       "invalid_parameter") from None
    if not low <= value <= high:
        raise ApiError(400, f"{name} must be between {low} and {high}, got {value}",
                       "invalid_parameter")
    return value


def page_args() -> Page:
    """The requested page; a 400 with a clear message for bad values."""
    return Page(page=_int_arg("page", 1, 1, MAX_PAGE),
                per_page=_int_arg("per_page", DEFAULT_PER_PAGE, 1, MAX_PER_PAGE))


def text_arg(name: str, max_length: int = 255) -> str | None:
    """An optional text filter, stripped; empty means not given."""
    raw = request.args.get(name)
    if raw is None or not raw.strip():
        return None
    if len(raw) > max_length:
        raise ApiError(400, f"{name} is longer than {max_length} characters",
                       "invalid_parameter")
    return raw.strip()


def list_body(items: list[Any], total: int, page: Page) -> dict[str, Any]:
    """A list answer: {"items", "total", "page", "per_page"}."""
    return {"items": items, "total": total, "page": page.page, "per_page": page.per_page}
