"""Deferred rendering: features register how to build the mail of an outbox `kind`.

Bulk senders (invitations, mailings) queue rows without bytes (`outbox.enqueue_many`): a
recipient, a small JSON payload and a pre-assigned Message-ID. The delivery worker builds
the message with the kind's renderer just before the first send and stores the bytes in
their own commit, so every retry sends the identical message. The mail package is a leaf:
features register their renderers here (in their `init_app`), the leaf never imports them.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Any

from sqlalchemy.orm import Session


@dataclass(frozen=True)
class RenderItem:
    """One deferred outbox row as a renderer sees it."""

    id: int
    kind: str
    to_addr: str
    payload: Mapping[str, Any]
    message_id: str


@dataclass(frozen=True)
class Skip:
    """The mail must not go out any more (target deleted, event cancelled, unsubscribed).

    The worker marks the row cancelled with this reason instead of failing it.
    """

    reason: str


# A renderer builds a whole batch (it can load its targets in one query): a result for
# each item id, either the message or a Skip. An id it leaves out counts as an error.
Renderer = Callable[[Session, Sequence[RenderItem]], Mapping[int, EmailMessage | Skip]]

_renderers: dict[str, Renderer] = {}


def register_renderer(kind: str, renderer: Renderer) -> None:
    """Make `renderer` build the deferred rows of `kind` (registering again replaces it)."""
    if not kind:
        raise ValueError("a renderer needs a kind")
    _renderers[kind] = renderer


def renderer_for(kind: str) -> Renderer | None:
    """The registered renderer of a kind, None when no feature registered one."""
    return _renderers.get(kind)


def registered_kinds() -> list[str]:
    """Kinds that can be queued deferred (sorted)."""
    return sorted(_renderers)
