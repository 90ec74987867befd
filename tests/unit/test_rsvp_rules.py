"""Pure RSVP rules: the answer's state machine, deadline, seats, waiting list, consents."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from engagement.events.rsvp import rules as r
from engagement.events.rules import EventStatus, InvitationStatus

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


# --- the answer's state machine -----------------------------------------------------------

INV, A, T, D, WL = (InvitationStatus.INVITED, InvitationStatus.ACCEPTED,
                  InvitationStatus.TENTATIVE, InvitationStatus.DECLINED,
                  InvitationStatus.WAITLISTED)
YES, MAYBE, NO = r.RsvpStatus.ACCEPTED, r.RsvpStatus.TENTATIVE, r.RsvpStatus.DECLINED


@pytest.mark.parametrize("facts, action, reason, offer_waiting", [
    # deadline and plus-one refusals come first, whatever the answer
    (dict(old=INV, wanted=YES, closed=True, seat_free=True), r.Action.REFUSE, r.Refusal.CLOSED,
     False),
    # issue 12.2: after the deadline a held seat can still be given back (until the start)
    (dict(old=A, wanted=NO, closed=True), r.Action.DECLINE, None, True),
    (dict(old=WL, wanted=NO, closed=True), r.Action.DECLINE, None, False),
    (dict(old=A, wanted=MAYBE, closed=True), r.Action.REFUSE, r.Refusal.CLOSED, False),
    (dict(old=A, wanted=NO, closed=True, started=True), r.Action.REFUSE, r.Refusal.STARTED,
     False),
    (dict(old=A, wanted=NO, closed=True, started=True, by_manager=True), r.Action.REFUSE,
     r.Refusal.STARTED, False),
    # ... an offered seat can be taken, a held incomplete seat completed; nothing else
    (dict(old=WL, wanted=YES, closed=True, offer_held=True, seat_free=True), r.Action.ACCEPT,
     None, False),
    (dict(old=WL, wanted=YES, closed=True, seat_free=True), r.Action.REFUSE, r.Refusal.CLOSED,
     False),
    (dict(old=A, wanted=YES, closed=True, action_needed=True), r.Action.ACCEPT, None, False),
    (dict(old=A, wanted=YES, closed=True), r.Action.REFUSE, r.Refusal.CLOSED, False),
    (dict(old=A, wanted=YES, closed=True, action_needed=True, plus_one_allowed=True,
          plus_one=True, plus_one_asked=True, seat_free=True), r.Action.REFUSE,
     r.Refusal.CLOSED, False),
    # ... and a manager may change any answer (audited by the service)
    (dict(old=INV, wanted=YES, closed=True, seat_free=True, by_manager=True), r.Action.ACCEPT,
     None, False),
    (dict(old=D, wanted=MAYBE, closed=True, by_manager=True), r.Action.TENTATIVE, None, False),
    # deliberate overbooking: a manager only, beyond capacity or ahead of the list
    (dict(old=INV, wanted=YES, seat_free=False, capacity_limited=True, by_manager=True,
          overbook=True), r.Action.ACCEPT, None, True),
    (dict(old=INV, wanted=YES, seat_free=False, capacity_limited=True, overbook=True),
     r.Action.WAITLIST, None, True),
    (dict(old=WL, wanted=YES, seat_free=False, by_manager=True, overbook=True),
     r.Action.ACCEPT, None, False),
    (dict(old=INV, wanted=YES, plus_one_asked=True, by_manager=True, overbook=True),
     r.Action.REFUSE, r.Refusal.PLUS_ONE_NOT_ALLOWED, False),
    (dict(old=INV, wanted=YES, plus_one_asked=True, seat_free=True), r.Action.REFUSE,
     r.Refusal.PLUS_ONE_NOT_ALLOWED, False),
    # a newcomer with a free seat and nobody waiting is in; otherwise waits
    (dict(old=INV, wanted=YES, seat_free=True), r.Action.ACCEPT, None, False),
    (dict(old=D, wanted=YES, seat_free=True, capacity_limited=True), r.Action.ACCEPT, None,
     True),
    (dict(old=INV, wanted=YES, seat_free=False, capacity_limited=True), r.Action.WAITLIST, None,
     True),
    (dict(old=T, wanted=YES, seat_free=True, others_waiting=True), r.Action.WAITLIST, None,
     False),
    # accepted again: adding a plus-one needs a seat; dropping one frees a seat
    (dict(old=A, wanted=YES, plus_one_before=False, plus_one=True, plus_one_allowed=True,
          plus_one_asked=True, seat_free=False), r.Action.REFUSE,
     r.Refusal.NO_SEAT_FOR_PLUS_ONE, False),
    (dict(old=A, wanted=YES, plus_one_before=False, plus_one=True, plus_one_allowed=True,
          plus_one_asked=True, seat_free=True), r.Action.ACCEPT, None, False),
    (dict(old=A, wanted=YES, plus_one_before=True, plus_one=True, plus_one_allowed=True,
          plus_one_asked=True, seat_free=False), r.Action.ACCEPT, None, False),
    (dict(old=A, wanted=YES, plus_one_before=True, plus_one=False, plus_one_allowed=True),
     r.Action.ACCEPT, None, True),
    # waitlisted: an open offer with a seat turns into a place; without an offer, keep waiting
    (dict(old=WL, wanted=YES, offer_held=True, seat_free=True), r.Action.ACCEPT, None, False),
    (dict(old=WL, wanted=YES, offer_held=True, seat_free=False), r.Action.REFUSE,
     r.Refusal.NO_SEAT_FOR_PLUS_ONE, False),
    (dict(old=WL, wanted=YES, offer_held=False, seat_free=True), r.Action.KEEP_WAITING, None,
     False),
    (dict(old=WL, wanted=YES, capacity_limited=True), r.Action.KEEP_WAITING, None, True),
    # maybe / no: a held seat or an open offer frees up for the next person
    (dict(old=A, wanted=NO), r.Action.DECLINE, None, True),
    (dict(old=A, wanted=MAYBE), r.Action.TENTATIVE, None, True),
    (dict(old=WL, wanted=NO, offer_held=True), r.Action.DECLINE, None, True),
    (dict(old=WL, wanted=NO), r.Action.DECLINE, None, False),
    (dict(old=INV, wanted=NO), r.Action.DECLINE, None, False),
    (dict(old=INV, wanted=MAYBE, capacity_limited=True), r.Action.TENTATIVE, None, True),
])
def test_decide(facts, action, reason, offer_waiting):
    decision = r.decide(r.RsvpFacts(**{"plus_one_before": False, "plus_one": False, **facts}))
    assert (decision.action, decision.reason, decision.offer_waiting) == (
        action, reason, offer_waiting)


def test_overbooking_is_flagged_only_when_beyond_capacity():
    over = r.decide(r.RsvpFacts(old=INV, wanted=YES, plus_one_before=False, plus_one=False,
                                seat_free=False, by_manager=True, overbook=True))
    normal = r.decide(r.RsvpFacts(old=INV, wanted=YES, plus_one_before=False, plus_one=False,
                                  seat_free=True, by_manager=True, overbook=True))
    assert over.overbooked and not normal.overbooked


@pytest.mark.parametrize("kw, answers", [
    (dict(old=INV, closed=False, started=False), ("accepted", "tentative", "declined")),
    (dict(old=A, closed=True, started=False), ("declined",)),
    (dict(old=T, closed=True, started=False), ("declined",)),
    (dict(old=D, closed=True, started=False), ()),
    (dict(old=WL, closed=True, started=False, offer_held=True), ("accepted", "declined")),
    (dict(old=A, closed=True, started=False, action_needed=True), ("accepted", "declined")),
    (dict(old=A, closed=True, started=True), ()),
])
def test_open_answers_mirror_decide(kw, answers):
    kw = {"offer_held": False, "action_needed": False, **kw}
    assert tuple(a.value for a in r.open_answers(**kw)) == answers


def test_offer_never_outlives_the_start():
    start = NOW + timedelta(hours=5)
    assert r.offer_expiry(NOW, 48, starts_at=start) == start
    assert r.offer_expiry(NOW, 2, starts_at=start) == NOW + timedelta(hours=2)


def test_missing_for_attendance():
    consents = [r.Consent("photos", "Photos.", 2, True), r.Consent("news", "News.", 1, False)]
    assert r.missing_for_attendance(QUESTIONS, {}, consents, {}) == ["q1", "consent:photos"]
    assert r.missing_for_attendance(QUESTIONS, {"1": "vegan"}, consents,
                                    {"photos": True}) == []
    assert r.missing_for_attendance(QUESTIONS, {"1": "  "}, consents, {"photos": True}) == ["q1"]


def test_tentative_is_not_asked_what_only_attendees_need():
    assert r.clean_answers(QUESTIONS, {}, attending=False) == {}


@pytest.mark.parametrize("status, source, needed, state", [
    (D, "offer-expired", False, "offer_expired"), (D, "web", False, "declined"),
    (A, "calendar", True, "action_needed"), (A, "calendar", False, "accepted"),
    (INV, "hold-expired", False, "hold_expired"),
])
def test_display_state(status, source, needed, state):
    assert r.display_state(status, source=source, action_needed=needed) == state


@pytest.mark.parametrize("action, status, leaves", [
    (r.Action.ACCEPT, A, True), (r.Action.WAITLIST, WL, False),
    (r.Action.KEEP_WAITING, WL, False), (r.Action.TENTATIVE, T, True),
    (r.Action.DECLINE, D, True), (r.Action.REFUSE, None, False),
])
def test_decision_status_after(action, status, leaves):
    decision = r.Decision(action)
    assert (decision.status, decision.leaves_waitlist) == (status, leaves)


@pytest.mark.parametrize("event_status, invitation_status, reason", [
    (EventStatus.PUBLISHED, INV, None),
    (EventStatus.PUBLISHED, WL, None),
    (EventStatus.DRAFT, INV, r.Refusal.EVENT_NOT_PUBLISHED),
    (EventStatus.CANCELLED, A, r.Refusal.EVENT_CANCELLED),
    (EventStatus.PUBLISHED, InvitationStatus.CANCELLED, r.Refusal.INVITATION_WITHDRAWN),
])
def test_why_not_answerable(event_status, invitation_status, reason):
    assert r.why_not_answerable(event_status, invitation_status) is reason


@pytest.mark.parametrize("asked, before, allowed, after", [
    (None, True, True, True), (None, False, True, False), (True, False, True, True),
    (False, True, True, False), (True, False, False, False), (None, True, False, False),
])
def test_plus_one_after(asked, before, allowed, after):
    assert r.plus_one_after(asked, before, allowed) is after


@pytest.mark.parametrize("status, old, kind", [
    (A, INV, "accepted"), (D, A, "declined"), (D, INV, "declined-plain"), (D, WL, "declined-plain"),
    (WL, INV, "waitlisted"), (T, A, "tentative"),
])
def test_mail_kind(status, old, kind):
    assert r.mail_kind(status, old) == kind


def test_mail_kind_action_needed():
    assert r.mail_kind(A, INV, action_needed=True) == "action-needed"
    assert r.mail_kind(D, A, action_needed=True) == "declined"
