"""Pure RSVP rules: deadline, seats, waiting-list placement, answers and consents."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from engagement.events.rsvp import rules as r

NOW = datetime(2027, 5, 1, 12, 0, tzinfo=UTC)


def test_closed_at_deadline_or_start():
    start = NOW + timedelta(days=3)
    assert not r.is_closed(deadline=NOW + timedelta(minutes=1), starts_at=start, now=NOW)
    assert r.is_closed(deadline=NOW, starts_at=start, now=NOW)
    assert not r.is_closed(deadline=None, starts_at=start, now=NOW)
    assert r.is_closed(deadline=None, starts_at=NOW - timedelta(seconds=1), now=NOW)


def test_seats_count_plus_ones_and_reserved_offers():
    assert r.has_seat(capacity=None, taken=10_000, reserved=0, needed=2)
    assert r.has_seat(capacity=10, taken=8, reserved=1, needed=1)
    assert not r.has_seat(capacity=10, taken=8, reserved=1, needed=2)
    assert not r.has_seat(capacity=10, taken=10, reserved=0, needed=1)
    assert r.seats_needed(True) == 2 and r.seats_needed(False) == 1


def test_waitlist_position_first_come_and_by_tier():
    assert r.waitlist_position(by_tier=False, rank=5, ranks_ahead=[1, 9], length=2) == 3
    # Tier priority: behind everyone of equal or higher rank, ahead of lower ranks.
    assert r.waitlist_position(by_tier=True, rank=5, ranks_ahead=[9, 5, 1, None],
                               length=4) == 3
    assert r.waitlist_position(by_tier=True, rank=None, ranks_ahead=[9, None], length=2) == 3
    assert r.waitlist_position(by_tier=True, rank=10, ranks_ahead=[9, 5], length=2) == 1


def test_offers_go_strictly_in_order():
    assert r.offers_to_make(capacity=10, taken=8, reserved=0, queue=[False, False, False]) == 2
    # The head needs two seats, one is free: nobody behind jumps ahead.
    assert r.offers_to_make(capacity=10, taken=9, reserved=0, queue=[True, False]) == 0
    assert r.offers_to_make(capacity=10, taken=7, reserved=1, queue=[True, False]) == 1
    assert r.offers_to_make(capacity=10, taken=10, reserved=0, queue=[False]) == 0
    assert r.offers_to_make(capacity=None, taken=10, reserved=0, queue=[False, True]) == 2


def test_offer_expiry_hours():
    assert r.offer_expiry(NOW, 48) == NOW + timedelta(hours=48)
    assert r.offer_expiry(NOW, 0) == NOW + timedelta(hours=1)


QUESTIONS = [r.Question(1, "text", "Diet", (), True),
             r.Question(2, "choice", "Shirt", ("S", "M", "L"), False)]


def test_answers_are_cleaned_and_required_only_for_attendees():
    assert r.clean_answers(QUESTIONS, {"1": " vegan ", "2": "M"}, attending=True) == {
        "1": "vegan", "2": "M"}
    assert r.clean_answers(QUESTIONS, {}, attending=False) == {}
    with pytest.raises(r.RsvpRuleError) as exc:
        r.clean_answers(QUESTIONS, {"2": "XXL"}, attending=True)
    assert exc.value.errors == {"q1": "required", "q2": "invalid_choice"}
    with pytest.raises(r.RsvpRuleError) as exc:
        r.clean_answers(QUESTIONS, {"1": "x" * 2001}, attending=True)
    assert exc.value.errors == {"q1": "too_long"}


def test_required_consents_bind_attendees_only():
    consents = [r.Consent("photos", "Photos may be taken.", 2, False),
                r.Consent("venue", "My name goes to the venue.", 1, True)]
    assert r.check_consents(consents, {"venue": True}, attending=True) == {
        "photos": False, "venue": True}
    assert r.check_consents(consents, {}, attending=False) == {"photos": False, "venue": False}
    with pytest.raises(r.RsvpRuleError) as exc:
        r.check_consents(consents, {"photos": True}, attending=True)
    assert exc.value.errors == {"consent:venue": "required"}
