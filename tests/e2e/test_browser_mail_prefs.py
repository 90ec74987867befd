"""Browser: a manager changes a member's mail preferences and confirms a mailing's count."""
from __future__ import annotations

from datetime import UTC, datetime

from engagement.community.mailings import services as mailings
from engagement.extensions import db
from tests.factories import make_member, make_segment, make_tier, make_user

NOW = datetime(2026, 11, 20, 12, tzinfo=UTC)
SHOTS = "/tmp/shots-mailings"


def test_manager_sets_invitation_opt_out_and_confirms_a_mailing(live_server, page, login):
    app = live_server.app
    with app.app_context():
        user = make_user(role="manager", locale="de")
        tier = make_tier("BrowserTier", 207, "answers >= 1")
        member = make_member(display_name="Paula Weber", email="paula@example.org",
                             tier_id=tier.id, mail_opt_out_at=NOW)
        make_member(display_name="Otto", email="otto@example.org", tier_id=tier.id)
        segment = make_segment("Browser people", {"tiers": ["BrowserTier"]})
        mailing = mailings.save_draft(db.session, subject="Treffen im Dezember",
                                      body="Hallo **alle**", segment=segment, now=NOW)
        db.session.commit()
        email, member_id, mailing_id = user.email, member.id, mailing.id
    login(page, email)
    for width, name in ((1280, "desktop"), (390, "phone")):
        page.set_viewport_size({"width": width, "height": 900})
        page.goto(f"{live_server.url}/members/{member_id}#mail-prefs")
        page.screenshot(path=f"{SHOTS}/member-prefs-{name}.png", full_page=True)
        page.goto(f"{live_server.url}/mailings/{mailing_id}/send")
        page.screenshot(path=f"{SHOTS}/confirm-{name}.png", full_page=True)
    page.goto(f"{live_server.url}/members/{member_id}")
    page.check("#opt-invitations")
    page.uncheck("#opt-mailings")
    page.click("#mail-prefs button[type=submit]")
    page.wait_for_load_state("networkidle")
    assert page.locator("#mail-prefs").inner_text().count("abbestellt am") == 1
    with app.app_context():
        from engagement.community.models import Member
        member = db.session.get(Member, member_id)
        assert member.invite_opt_out_at is not None and member.mail_opt_out_at is None
    page.goto(f"{live_server.url}/mailings/{mailing_id}/send")
    assert "geht jetzt an 2 Mitglieder" in page.content()
    page.click("form.card button[type=submit]")
    page.wait_for_load_state("networkidle")
    with app.app_context():
        from engagement.community.mailings.models import Mailing
        assert db.session.get(Mailing, mailing_id).recipients_count == 2
