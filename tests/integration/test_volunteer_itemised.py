"""Itemised volunteer records (issue 12, items 8 and 9): every line behind the totals, and
attendance counted in the year of the event, not of the check-in."""
from __future__ import annotations

import dataclasses
import re
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from engagement.events import attendance
from engagement.events.models import InvitationConsent, InvitationStatus
from engagement.extensions import db
from engagement.records.volunteer import itemised as volunteer_itemised
from engagement.records.volunteer import services
from engagement.rewards import services as reward_services
from engagement.rewards import tax_services
from engagement.timeutil import year_bounds_utc
from tests.factories import (
    add_days,
    make_event,
    make_grant,
    make_invitation,
    make_member,
    make_reward_item,
    make_user,
)

TZ = "Europe/Berlin"
D = Decimal


def _set_tax(session, **changes):
    """Change the tax rules of the years these tests use (rules are kept per year)."""
    for year in (2025, 2026):
        old = tax_services.tax_settings(session, year)
        tax_services.save_tax_year(session, year, dataclasses.replace(old, **changes),
                                   now=datetime.now(UTC), current_year=year)


def _hospitality_on(session):
    _set_tax(session, include_hospitality=True)


@pytest.fixture
def early(app_any):
    """A member checked in on 1 December 2025 for a summit on 15 January 2026 (badge pick-up
    weeks ahead), with a 40 EUR per-attendee cost."""
    with app_any.app_context():
        member = make_member(display_name="Early Bird")
        summit = make_event("Summit", starts_at=datetime(2026, 1, 15, 9, tzinfo=UTC),
                            per_attendee_cost=D("40.00"))
        make_invitation(summit, member, InvitationStatus.ACCEPTED,
                        checked_in_at=datetime(2025, 12, 1, 12, tzinfo=UTC))
        # Activity in 2025, so the member has a 2025 record the attendance must stay out of.
        add_days(member, {date(2025, 11, 3): {"answers": 3}})
        _hospitality_on(db.session)
        db.session.commit()
        return {"member": member.id, "event": summit.id}


def test_a_check_in_weeks_early_counts_in_the_events_year(app_any, early):
    member = early["member"]
    with app_any.app_context():
        for year, expected in ((2025, {}), (2026, {member: 1})):
            start, end = year_bounds_utc(year, TZ)
            assert attendance.attended_per_member(db.session, start, end, [member]) == expected
        in_2025 = services.year_records(db.session, 2025, TZ)[member].figures
        in_2026 = services.year_records(db.session, 2026, TZ)[member].figures
        assert (in_2025.events_attended, in_2026.events_attended) == (0, 1)
        # The hospitality value goes to the same year as the attendance.
        assert (in_2025.rewards_value, in_2026.rewards_value) == (D("0.00"), D("40.00"))
        # The itemised lists use the same rule.
        assert volunteer_itemised.member_events(db.session, member, 2025, TZ) == []
        [line] = volunteer_itemised.member_events(db.session, member, 2026, TZ)
        assert (line.title, line.attended, line.roles) == ("Summit", True, [])
        assert reward_services.member_reward_lines(db.session, member, 2025, TZ) == []
        [hosp] = reward_services.member_reward_lines(db.session, member, 2026, TZ)
        assert (hosp.label, hosp.value, str(hosp.kind), hosp.counted) == (
            "Summit", D("40.00"), "hospitality", True)


@pytest.fixture
def rich(app):
    """One member-year with a line of every kind."""
    with app.app_context():
        member = make_member(display_name="=Hanna")
        make_user("member", name="Hanna Hilfreich", member_id=member.id)
        add_days(member, {date(2025, 3, 4): {"answers": 20, "accepted_solutions": 4},
                          date(2025, 3, 20): {"answers": 5},
                          date(2025, 12, 31): {"answers": 10, "accepted_solutions": 2},
                          date(2024, 12, 31): {"answers": 99}})
        meetup = make_event("Meetup", starts_at=datetime(2025, 5, 6, 16, tzinfo=UTC))
        workshop = make_event("Workshop", starts_at=datetime(2025, 9, 9, 8, tzinfo=UTC))
        not_there = make_event("Barcamp", starts_at=datetime(2025, 10, 1, 8, tzinfo=UTC))
        invitation = make_invitation(meetup, member, InvitationStatus.ACCEPTED,
                                     checked_in_at=datetime(2025, 5, 6, 15, tzinfo=UTC))
        db.session.add(InvitationConsent(invitation_id=invitation.id, key="photo", version=2,
                                         text="Photos may be taken.", given=True,
                                         at=datetime(2025, 4, 1, 10, tzinfo=UTC)))
        make_invitation(workshop, member, InvitationStatus.ACCEPTED)  # nobody checked in there
        other = make_member()
        make_invitation(not_there, other, InvitationStatus.ACCEPTED,
                        checked_in_at=datetime(2025, 10, 1, 8, tzinfo=UTC))
        make_invitation(not_there, member, InvitationStatus.ACCEPTED)  # a no-show
        services.add_role(db.session, event_id=meetup.id, member_id=member.id,
                          role="speaker", hours="1,5", note="Keynote")
        services.add_role(db.session, event_id=not_there.id, member_id=member.id,
                          role="organiser", hours="2", note="")
        mug = make_reward_item("Mug", "12.50")
        dinner = make_reward_item("Team dinner", "30.00", kind="hospitality")
        make_grant(member, mug, year=2025, granted_at=datetime(2025, 5, 6, 18, tzinfo=UTC))
        make_grant(member, dinner, year=2025, granted_at=datetime(2025, 5, 6, 19, tzinfo=UTC))
        make_grant(member, mug, year=2025, status="proposed")  # not given yet: not listed
        make_grant(member, mug, year=2025, fulfilment="cancelled")  # never given
        make_grant(member, mug, year=2024)
        v1 = services.create_agreement_version(db.session, key="volunteer", title="Terms",
                                               text="Be kind.",
                                               now=datetime(2025, 1, 2, tzinfo=UTC))
        services.create_agreement_version(db.session, key="volunteer", title="Terms",
                                          text="Be kind, always.",
                                          now=datetime(2025, 6, 1, tzinfo=UTC))
        services.record_acceptance(db.session, member_id=member.id, agreement_id=v1.id,
                                   source="paper form",
                                   now=datetime(2025, 2, 3, 9, 30, tzinfo=UTC))
        db.session.commit()
        return {"member": member.id, "meetup": meetup.id, "workshop": workshop.id,
                "barcamp": not_there.id}


def test_itemised_record_holds_every_line_behind_the_totals(app, rich):
    with app.app_context():
        items = volunteer_itemised.itemised_record(db.session, rich["member"], 2025, TZ)
        figures = items.record.figures
        assert items.person_name == "Hanna Hilfreich"
        events = [(e.title, e.attended, [str(r.role) for r in e.roles], e.hours)
                  for e in items.events]
        assert events == [("Meetup", True, ["speaker"], D("1.50")),
                          ("Workshop", True, [], D("0.00")),
                          ("Barcamp", False, ["organiser"], D("2.00"))]
        assert figures.events_attended == sum(e.attended for e in items.events) == 2
        assert figures.role_hours == sum(e.hours for e in items.events) == D("3.50")
        rewards = [(ln.label, ln.value, str(ln.kind), ln.counted) for ln in items.rewards]
        assert rewards == [("Mug", D("12.50"), "gift", True),
                           ("Team dinner", D("30.00"), "hospitality", False)]
        assert sum(ln.value for ln in items.rewards if ln.counted) == figures.rewards_value
        assert (items.ledger.total, str(items.ledger.flag)) == (D("12.50"), "ok")
        months = {m.month.month: (m.answers, m.accepted_solutions) for m in items.months}
        assert len(items.months) == 12 and items.months[0].month == date(2025, 1, 1)
        assert (months[3], months[12], months[1]) == ((25, 4), (10, 2), (0, 0))
        assert sum(a for a, _s in months.values()) == figures.answers == 35
        agreements = [(ln.agreement.version, ln.accepted_at, ln.source)
                      for ln in items.agreements]
        assert agreements == [(2, None, ""),
                              (1, datetime(2025, 2, 3, 9, 30, tzinfo=UTC), "paper form")]
        [(title, consent)] = items.consents
        assert (title, consent.key, consent.version, consent.given) == ("Meetup", "photo", 2,
                                                                        True)


def test_record_page_shows_identity_lines_and_print_date(app, client, login_as, rich,
                                                        monkeypatch):
    from engagement.records.volunteer import views as volunteer_views
    monkeypatch.setattr(volunteer_views, "utcnow",
                        lambda: datetime(2026, 3, 4, 9, 5, tzinfo=UTC))
    login_as("hr")
    html = client.get(f"/records/{rich['member']}/2025").get_data(as_text=True)
    identity = html[html.index('<dl class="record-identity">'):html.index("</dl>")]
    assert "Hanna Hilfreich" in identity and "=Hanna" in identity
    assert f"<dd>{rich['member']}</dd>" in identity and "Printed on" in identity
    assert "<dt>Printed on</dt><dd>Mar 4, 2026, 10:05</dd>" in identity  # Berlin time
    events = html[html.index('class="record-events"'):html.index("</table>", html.index(
        'class="record-events"'))]
    assert re.search(r"Meetup</td><td>yes</td>\s*<td>Speaker \(Keynote\)</td>\s*"
                     r"<td class=\"num\">1.5</td>", events), events
    assert re.search(r"Barcamp</td><td>no</td>", events)
    rewards = html[html.index('class="record-rewards"'):]
    assert "Mug" in rewards and "counts towards the gift limit" in rewards
    assert "Team dinner" in rewards and "not counted" in rewards
    assert "Gift limit 50.00 EUR:" in rewards
    months = html[html.index('class="record-months"'):]
    assert "Mar 2025" in months and "Dec 2025" in months
    agreements = html[html.index('class="record-agreements"'):]
    assert "paper form" in agreements and "v2" in agreements and "not accepted" in agreements
    consents = html[html.index('class="record-consents"'):]
    assert "Meetup" in consents and "photo" in consents and "given" in consents


def test_a_record_without_a_known_name_says_so(app, client, login_as):
    with app.app_context():
        member = make_member(display_name="Anon")
        add_days(member, {date(2025, 2, 2): {"answers": 1}})
        db.session.commit()
        member_id = member.id
    login_as("hr")
    html = client.get(f"/records/{member_id}/2025").get_data(as_text=True)
    assert "<dt>Name</dt><dd>not known</dd>" in html
    assert "No events in this year." in html and "No rewards in this year." in html


def test_flat_tax_shows_on_the_record_when_opted_in(app, client, login_as, rich):
    with app.app_context():
        _set_tax(db.session, flat_tax_opted_in=True)
        db.session.commit()
    login_as("hr")
    html = client.get(f"/records/{rich['member']}/2025").get_data(as_text=True)
    assert "§ 37b flat tax 3.75 EUR" in html  # 30 % of 12.50


def test_hospitality_grants_count_once_configured(app, rich):
    with app.app_context():
        _hospitality_on(db.session)
        lines = reward_services.member_reward_lines(db.session, rich["member"], 2025, TZ)
        assert [(ln.label, ln.counted) for ln in lines] == [("Mug", True),
                                                           ("Team dinner", True)]
        record = services.year_records(db.session, 2025, TZ, [rich["member"]])[rich["member"]]
        assert record.figures.rewards_value == D("42.50")
