"""The ticket's scan link: `/checkin/<token>`, the invitation id and nonce signed as a ticket.

The salt differs from the invitation link's (signing.KINDS), so an invitation link is never
a check-in link and vice versa. Replacing an invitation's nonce revokes both.
"""
from __future__ import annotations

from ... import signing
from ..notifications import base_url


class TicketInvalid(signing.LinkInvalid):
    """A scan token that is forged, garbled, of another kind or revoked."""


def make_token(invitation_id: int, nonce: str) -> str:
    """The signed token of an invitation's ticket."""
    return signing.make_pair("ticket", invitation_id, nonce)


def read_token(token: str) -> tuple[int, str]:
    """(invitation id, nonce); raises TicketInvalid for forged, garbled or foreign tokens."""
    try:
        return signing.read_pair("ticket", token)
    except signing.LinkInvalid as exc:
        raise TicketInvalid("invalid check-in link") from exc


def checkin_url(invitation_id: int, nonce: str) -> str:
    """What the ticket's QR code encodes."""
    return f"{base_url()}/checkin/{make_token(invitation_id, nonce)}"
