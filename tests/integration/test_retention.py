"""Retention: restricted tax names of erased recipients (item 16) and the purge (item 17).

Time is injected: the erasure and the purge take `now`, the CLI a hidden `--now`.
"""
from __future__ import annotations

import os
import threading
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from engagement import audit
from engagement.accounts.models import LoginAttempt
from engagement.accounts.signin.links import MagicLink
from engagement.audit import AuditEntry
from engagement.community.importers.uploads import uploads_root
from engagement.events.models import Invitation, InvitationStatus
from engagement.extensions import db
from engagement.mail.models import OutboxMessage, OutboxStatus
from engagement.records.gdpr import services as gdpr
from engagement.records.retention import services as retention
from engagement.records.retention.rules import Kind
from engagement.rewards.restriction import RestrictedRecipient
from tests.factories import (
    make_event,
    make_grant,
    make_invitation,
    make_member,
    make_reward_item,
)

NAME = "Philippa Steuerlich"
EMAIL = "philippa@tax-example.test"
NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
# 10 years after the end of 2026 in Berlin: 1 January 2037, 00:00 local time.
RETENTION_END = datetime(2036, 12, 31, 23, 0, tzinfo=UTC)


def _gift_recipient(status: str = "approved", year: int = 2026) -> int:
    member = make_member(display_name=NAME, email=EMAIL)
    make_grant(member, make_reward_item("Fountain pen", "45.00"), year=year, status=status,
               granted_at=NOW - timedelta(days=30))
    db.session.commit()
    return member.id


def _purge(now: datetime, instance: str = "/nonexistent") -> dict[str, int]:
    counts = retention.purge(db.session, now=now, upload_days=0, instance_path=instance)
    db.session.commit()
    return counts


def _ledger(client, year: int = 2026) -> str:
    return client.get(f"/rewards/ledger?year={year}").get_data(as_text=True)


def test_an_erased_gift_recipient_is_named_to_hr_only_until_the_retention_ends(
        app, client, login_as):
    with app.app_context():
        member_id = _gift_recipient()
        gdpr.erase_member(db.session, member_id, key="k", now=NOW)
        db.session.commit()
        kept = db.session.scalars(select(RestrictedRecipient)).one()
        assert (kept.member_id, kept.name, kept.retain_until) == (member_id, NAME,
                                                                   RETENTION_END)
    pseudonym = f"Erased member #{member_id}"
    login_as("manager")
    page = _ledger(client)
    assert pseudonym in page and NAME not in page
    assert NAME not in client.get("/rewards/ledger/gifts.csv?year=2026").get_data(as_text=True)
    login_as("admin")
    assert NAME not in _ledger(client)  # HR alone
    login_as("hr")
    page = _ledger(client)
    assert NAME in page and "restricted, Art. 18" in page
    csv = client.get("/rewards/ledger/gifts.csv?year=2026").get_data(as_text=True)
    assert NAME in csv

    with app.app_context():
        # One hour before the end (midnight in Berlin) the name stays.
        assert _purge(RETENTION_END - timedelta(hours=1))["tax_names"] == 0
        assert db.session.scalar(select(func.count()).select_from(RestrictedRecipient)) == 1
        assert _purge(RETENTION_END)["tax_names"] == 1
        assert db.session.scalar(select(func.count()).select_from(RestrictedRecipient)) == 0
        assert audit.verify(db.session).ok
    page = _ledger(client)
    assert NAME not in page and pseudonym in page


def test_no_name_is_kept_without_gifts_under_retention(app):
    with app.app_context():
        proposed = _gift_recipient(status="proposed")
        gdpr.erase_member(db.session, proposed, key="k", now=NOW)
        # A gift of 2015: kept to the end of 2025, over by now.
        old = make_member(display_name="Old Recipient", email="old@example.org")
        make_grant(old, make_reward_item("Mug", "10.00"), year=2015)
        counts = gdpr.erase_member(db.session, old.id, key="k", now=NOW)
        db.session.commit()
        assert counts["restricted_names"] == 0
        assert db.session.scalars(select(RestrictedRecipient)).all() == []


def test_the_tax_retention_is_a_setting_with_its_source(app):
    with app.app_context():
        period = retention.save_period(
            db.session, Kind.TAX_NAMES, amount=8, source="§ 147 Abs. 3 AO as of BEG IV",
            by="hr:hr@example.org", now=NOW)
        assert (period.amount, period.source) == (8, "§ 147 Abs. 3 AO as of BEG IV")
        member_id = _gift_recipient()
        gdpr.erase_member(db.session, member_id, key="k", now=NOW)
        db.session.commit()
        kept = db.session.scalars(select(RestrictedRecipient)).one()
        assert kept.retain_until == datetime(2034, 12, 31, 23, 0, tzinfo=UTC)
        entry = db.session.scalars(select(AuditEntry).where(
            AuditEntry.action == "retention.period")).one()
        assert entry.after == {"amount": 8, "source": "§ 147 Abs. 3 AO as of BEG IV"}


def _seed_kinds(instance) -> dict:
    """Two of each kind: one past its period at NOW, one still within it."""
    member = make_member(display_name="Rita Retention", email="rita@example.org")
    over = make_event("Long over", starts_at=NOW - timedelta(days=100))
    recent = make_event("Recent", starts_at=NOW - timedelta(days=10))
    old_inv = make_invitation(over, member, InvitationStatus.ACCEPTED, answers={"1": "vegan"})
    new_inv = make_invitation(recent, member, InvitationStatus.ACCEPTED, answers={"1": "nuts"})
    audit.record(db.session, "invitation.rsvp", "invitation", old_inv.id,
                 before={"status": "invited"},
                 after={"status": "accepted", "answers": {"1": "vegan"}}, at=NOW)
    for n, sent in enumerate((NOW - timedelta(days=40), NOW - timedelta(days=5), None)):
        db.session.add(OutboxMessage(
            kind="test", from_addr="org@example.org", to_addr="rita@example.org",
            subject=f"Mail {n}", message_id=f"<m{n}@test>", raw=b"To: Rita\r\n\r\nHello",
            payload={"invitation_id": old_inv.id, "name": "Rita"}, sent_at=sent,
            status=OutboxStatus.SENT if sent else OutboxStatus.QUEUED))
    for at in (NOW - timedelta(days=31), NOW - timedelta(hours=1)):
        db.session.add(LoginAttempt(email="rita@example.org", ip="10.0.0.1", at=at,
                                    success=False))
    for n, expires in enumerate((NOW - timedelta(days=2), NOW + timedelta(minutes=10))):
        db.session.add(MagicLink(email="rita@example.org", member_id=member.id,
                                 token_hash=f"{n}" * 64, ip="10.0.0.1",
                                 created_at=expires - timedelta(minutes=30),
                                 expires_at=expires))
    root = uploads_root(instance)
    for name, age in (("old", timedelta(days=2)), ("fresh", timedelta(0))):
        folder = root / name
        folder.mkdir(parents=True)
        (folder / "members.csv").write_text("external_id,display_name\n1,Rita\n")
        stamp = (NOW - age).timestamp()
        os.utime(folder, (stamp, stamp))
    db.session.commit()
    return {"old_inv": old_inv.id, "new_inv": new_inv.id}


def test_the_purge_removes_each_kind_after_its_period_and_only_once(app_any, tmp_path):
    with app_any.app_context():
        ids = _seed_kinds(tmp_path)
        # Uploads are kept 1 day here (IMPORT_UPLOAD_RETENTION_DAYS).
        counts = retention.purge(db.session, now=NOW, upload_days=1, instance_path=tmp_path)
        db.session.commit()
        assert counts == {"rsvp_answers": 1, "outbox_bodies": 1, "mail_files": 0,
                          "login_attempts": 1, "signin_links": 1, "uploads": 1,
                          "tax_names": 0}
        assert db.session.get(Invitation, ids["old_inv"]).answers is None
        assert db.session.get(Invitation, ids["new_inv"]).answers == {"1": "nuts"}
        assert db.session.get(Invitation, ids["old_inv"]).status == InvitationStatus.ACCEPTED
        rsvp = db.session.scalars(select(AuditEntry).where(
            AuditEntry.action == "invitation.rsvp")).one()
        assert rsvp.after == {"status": "accepted", "answers": "[expired]"}
        mails = db.session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)).all()
        assert [m.raw is None for m in mails] == [True, False, False]
        # The references stay, so an erasure still finds the mail; the name goes.
        assert mails[0].payload == {"invitation_id": ids["old_inv"]}
        assert mails[0].subject == "Mail 0" and mails[0].sent_at is not None
        assert db.session.scalar(select(func.count()).select_from(LoginAttempt)) == 1
        assert db.session.scalar(select(func.count()).select_from(MagicLink)) == 1
        assert sorted(p.name for p in uploads_root(tmp_path).iterdir()) == ["fresh"]
        entries = db.session.scalar(select(func.count()).select_from(AuditEntry))

        again = retention.purge(db.session, now=NOW, upload_days=1, instance_path=tmp_path)
        db.session.commit()
        assert set(again.values()) == {0}
        # An idle run leaves no trace in the audit log.
        assert db.session.scalar(select(func.count()).select_from(AuditEntry)) == entries
        result = audit.verify(db.session)
        assert result.ok, result.problem


def test_purges_running_at_once_remove_each_item_once(app_any, tmp_path):
    with app_any.app_context():
        _seed_kinds(tmp_path)
    barrier = threading.Barrier(3)
    results, errors = [], []

    def worker():
        try:
            with app_any.app_context():
                barrier.wait(timeout=10)
                results.append(retention.purge(db.session, now=NOW, upload_days=1,
                                               instance_path=tmp_path))
                db.session.commit()
                db.session.remove()
        except Exception as exc:  # reported below: a thread's failure must fail the test
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert errors == []
    totals = {k: sum(r[k] for r in results) for k in results[0]}
    assert totals["rsvp_answers"] == totals["outbox_bodies"] == 1
    assert totals["login_attempts"] == totals["signin_links"] == 1
    with app_any.app_context():
        assert audit.verify(db.session).ok
        assert db.session.scalar(select(func.count()).select_from(AuditEntry).where(
            AuditEntry.action == "retention.purge")) == 1


def test_purge_command_with_an_injected_clock(app, runner):
    with app.app_context():
        member_id = _gift_recipient()
        gdpr.erase_member(db.session, member_id, key="k", now=NOW)
        db.session.commit()
    result = runner.invoke(args=["purge", "--now", "2036-12-31T23:00:00+00:00"])
    assert result.exit_code == 0, result.output
    assert "tax_names 1" in result.output
    result = runner.invoke(args=["purge", "--now", "2036-12-31T23:00:00+00:00"])
    assert "tax_names 0" in result.output
    bad = runner.invoke(args=["purge", "--now", "2037-01-01"])
    assert bad.exit_code != 0 and "time zone" in bad.output


def test_the_retention_page_shows_what_goes_when(app, client, login_as):
    with app.app_context():
        _seed_kinds(app.instance_path)
        member_id = _gift_recipient()
        gdpr.erase_member(db.session, member_id, key="k", now=NOW)
        db.session.commit()
    login_as("manager")
    assert client.get("/records/retention").status_code == 403
    login_as("hr")
    page = client.get("/records/retention").get_data(as_text=True)
    assert "RSVP answers" in page and "Names of erased gift recipients" in page
    assert "§ 147 Abs. 1 Nr. 4" in page and "Next purge" in page and "never" in page
    assert "Jan 1, 2037" in page  # when the restricted name goes (Berlin time)
    assert "1 day after the link expired" in page

    from tests.conftest import csrf_token

    token = csrf_token(client, "/records/retention")
    bad = client.post("/records/retention", data={"csrf_token": token, "kind": "login_attempts",
                                                  "amount": "0", "source": ""})
    assert "Between 1 and 3650 days" in bad.get_data(as_text=True)
    ok = client.post("/records/retention", data={"csrf_token": token, "kind": "rsvp_answers",
                                                 "amount": "14", "source": "works council"})
    assert ok.status_code == 302
    page = client.get("/records/retention").get_data(as_text=True)
    assert "works council" in page and "14 days after the event ended" in page
    # Uploads are the deployment's setting: not changeable here.
    refused = client.post("/records/retention", data={"csrf_token": token, "kind": "uploads",
                                                      "amount": "5"})
    assert refused.status_code == 200 and "Not a valid choice" in refused.get_data(as_text=True)
    with app.app_context():
        periods = retention.current_periods(db.session)
        assert periods[Kind.RSVP_ANSWERS].amount == 14
        assert periods[Kind.RSVP_ANSWERS].changed_by.startswith("hr:")
