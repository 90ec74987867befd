"""Tax rules by year, exact money and four eyes on a real database (issue 12, items 11-13).

Runs on SQLite and PostgreSQL (`rw_any`) where the storage matters.
"""
from __future__ import annotations

import dataclasses
import re
import sqlite3
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from sqlalchemy import func, select, text

from engagement.audit import AuditEntry
from engagement.extensions import db
from engagement.rewards import init_app, services
from engagement.rewards.models import Grant, RewardItem
from engagement.rewards.rules import Flag, FourEyes, LimitBasis
from tests.conftest import csrf_token
from tests.factories import make_member, make_user

TZ = "Europe/Berlin"
D = Decimal
AT_2023 = datetime(2023, 5, 10, 10, 0, tzinfo=UTC)
AT_2024 = datetime(2024, 9, 3, 10, 0, tzinfo=UTC)
NOW = datetime(2026, 6, 1, 10, 0, tzinfo=UTC)


@pytest.fixture
def rw(app):
    if "rewards" not in app.blueprints:
        init_app(app)
    with app.app_context():
        yield app


@pytest.fixture
def pages(app):
    """For tests that use the client: no app context held across requests (Flask would
    reuse it, and with it the signed-in user cached in `g`)."""
    if "rewards" not in app.blueprints:
        init_app(app)
    return app


@pytest.fixture
def rw_any(app_any):
    if "rewards" not in app_any.blueprints:
        init_app(app_any)
    with app_any.app_context():
        yield app_any


def _set_year(year, *, current_year=2026, **changes):
    old = services.tax_settings(db.session, year)
    return services.save_tax_year(db.session, year, dataclasses.replace(old, **changes),
                                  now=NOW, current_year=current_year)


def _give(member, item, at, proposer, approver):
    plan = services.plan_grants(db.session, item_id=item.id, member_ids=[member.id], now=at,
                                tz_name=TZ)
    grant = services.execute_plan(db.session, plan, reason="", event_id=None,
                                  by_user_id=proposer.id, now=at, target="member")
    services.decide(db.session, grant, approve=True, by_user_id=approver.id, now=at)
    return grant


# --- item 11: rules by year -----------------------------------------------------------

def test_the_migration_seeds_the_german_history_with_sources(rw_any):
    years = {row.year: row for row in services.tax_years(db.session)}
    assert min(years) == 2004 and max(years) == 2026
    assert {y for y, r in years.items() if r.gift_limit == D("35.00")} == set(range(2004, 2024))
    assert {y for y, r in years.items() if r.gift_limit == D("50.00")} == {2024, 2025, 2026}
    for row in years.values():
        assert "EStG" in row.gift_limit_source and "R 4.10" in row.limit_basis_source
        assert (row.flat_rate, row.flat_tax_cap, row.giveaway_limit) == (
            D("30.00"), D("10000.00"), D("10.00"))
        assert row.limit_basis == LimitBasis.NET and not row.flat_tax_opted_in
    assert "erst ab 2007" in years[2006].flat_tax_source
    later = services.tax_settings(db.session, 2027)
    assert (later.year, later.inherited_from, later.gift_limit) == (2027, 2026, D("50.00"))


def test_a_2023_ledger_uses_35_eur_and_says_so(pages, client, login_as):
    with pages.app_context():
        m = make_member(display_name="Ole")
        proposer, approver = make_user(), make_user()
        item = services.create_item(db.session, name="Rucksack", kind="gift",
                                    net_value="35.01", vat_rate="0", now=AT_2023)
        _give(m, item, AT_2023, proposer, approver)
        db.session.commit()
        (line,) = services.ledger(db.session, 2023, TZ)
        assert (line.total, line.flag) == (D("35.01"), Flag.OVER)  # fine in 2024, not 2023
    login_as("hr")
    html = client.get("/rewards/ledger?year=2023").get_data(as_text=True)
    assert "35.00 EUR per recipient and year" in html
    assert "Haushaltsbegleitgesetzes 2004" in html
    assert "50.00 EUR" not in html and "since 2024" not in html
    assert "over the limit" in html


def test_changing_one_year_never_rewrites_another(rw_any):
    m = make_member()
    proposer, approver = make_user(), make_user()
    item = services.create_item(db.session, name="Hoodie", kind="gift", net_value="40.00",
                                vat_rate="19", now=AT_2023)
    _give(m, item, AT_2023, proposer, approver)
    _give(m, item, AT_2024, proposer, approver)
    before_2023 = services.ledger(db.session, 2023, TZ)
    _set_year(2024, flat_tax_opted_in=True, limit_basis=LimitBasis.GROSS)
    assert services.ledger(db.session, 2023, TZ) == before_2023
    assert before_2023[0].tax is None and before_2023[0].flag == Flag.OVER  # 40 > 35 (net)
    (line_2024,) = services.ledger(db.session, 2024, TZ)
    assert (line_2024.total, line_2024.flag, line_2024.tax) == (
        D("47.60"), Flag.OK, D("14.28"))  # gross 47.60 now counts; 30 % of it
    assert not services.tax_settings(db.session, 2025).flat_tax_opted_in
    entry = db.session.scalars(select(AuditEntry).where(
        AuditEntry.action == "rewards.tax_year")).one()
    assert entry.object_id == "2024"
    assert entry.before["limit_basis"] == "net" and entry.after["limit_basis"] == "gross"


def test_a_year_carrying_rules_forward_keeps_them_when_the_source_year_changes(rw_any):
    # It is 2028: 2027 and 2028 have no rules of their own and show 2026's.
    assert services.tax_settings(db.session, 2028).inherited_from == 2026
    _set_year(2026, current_year=2028, gift_limit=D("60.00"))
    assert services.tax_settings(db.session, 2026).gift_limit == D("60.00")
    for year in (2027, 2028):
        kept = services.tax_settings(db.session, year)
        assert (kept.inherited_from, kept.gift_limit) == (None, D("50.00"))
    assert services.tax_settings(db.session, 2029).inherited_from == 2028
    entry = db.session.scalars(select(AuditEntry).where(
        AuditEntry.action == "rewards.tax_year")).one()
    assert entry.after["kept_for_years"] == [2027, 2028]


def test_items_store_net_and_vat_and_grants_snapshot_them(rw_any):
    item = services.create_item(db.session, name="Hoodie", kind="gift", net_value="42.03",
                                vat_rate="19", now=NOW)
    assert (item.net_value, item.vat_rate, item.value) == (D("42.03"), D("19.00"), D("50.02"))
    m = make_member()
    proposer, approver = make_user(), make_user()
    grant = _give(m, item, NOW, proposer, approver)
    services.update_item(db.session, item, name="Hoodie", kind="gift", net_value="60.00",
                         vat_rate="19", description="", active=True)
    db.session.commit()
    db.session.expire_all()
    grant = db.session.get(Grant, grant.id)
    assert (grant.net_value, grant.vat_rate, grant.value) == (D("42.03"), D("19.00"),
                                                              D("50.02"))
    (line,) = services.ledger(db.session, 2026, TZ)
    assert (line.total, line.gross, line.flag) == (D("42.03"), D("50.02"), Flag.OK)
    _set_year(2026, limit_basis=LimitBasis.GROSS)
    (line,) = services.ledger(db.session, 2026, TZ)
    assert (line.total, line.flag) == (D("50.02"), Flag.OVER)


# --- item 12: exact money ---------------------------------------------------------------

def test_sums_are_exact_in_the_database(rw_any):
    m = make_member()
    item = services.create_item(db.session, name="Cent", kind="gift", net_value="0.01",
                                vat_rate="0", now=NOW)
    dime = services.create_item(db.session, name="Dime", kind="gift", net_value="0.10",
                                vat_rate="0", now=NOW)
    rows = [Grant(member_id=m.id, item_id=i.id, value=i.value, net_value=i.net_value,
                  vat_rate=i.vat_rate, kind="gift", year=2026, status="approved",
                  granted_at=NOW) for i in [item] * 1000 + [dime] * 3]
    db.session.add_all(rows)
    db.session.commit()
    total = db.session.scalar(select(func.sum(Grant.value)))
    assert total == D("10.30") and isinstance(total, Decimal)
    assert str(total) == "10.30"
    (line,) = services.ledger(db.session, 2026, TZ)
    assert line.total == D("10.30")
    assert db.session.scalar(select(Grant.value).where(Grant.value == D("0.10")).limit(1)) \
        == D("0.10")


FLOAT_ARTEFACT = re.compile(r"\d\.\d*0{6,}\d|\d\.\d*9{6,}\d")


def test_the_sqlite_file_holds_no_float_artefacts(rw, tmp_path):
    from engagement.events.models import Event
    from engagement.records.models import EventRole

    m = make_member()
    for net, rate in [("0.01", "0"), ("0.29", "19"), ("19.99", "7"), ("33.33", "19.5")]:
        item = services.create_item(db.session, name=f"Item {net}", kind="gift",
                                    net_value=net, vat_rate=rate, now=NOW)
        _give(m, item, NOW, make_user(), make_user())
    ev = Event(uid="u-money", title="Dinner", starts_at=NOW, ends_at=NOW, timezone=TZ,
               organizer_email="o@example.org", per_attendee_cost=D("0.10"))
    db.session.add(ev)
    db.session.flush()
    db.session.add(EventRole(event_id=ev.id, member_id=m.id, role="speaker",
                             hours=D("0.10")))
    db.session.commit()
    path = db.engine.url.database
    db.engine.dispose()
    with sqlite3.connect(path) as conn:
        dump = "\n".join(conn.iterdump())
        stored = conn.execute("SELECT value, typeof(value) FROM reward_items "
                              "ORDER BY id").fetchall()
    money_lines = [ln for ln in dump.splitlines() if ln.startswith((
        'INSERT INTO "reward_', 'INSERT INTO "events"', 'INSERT INTO "event_roles"'))]
    assert len(money_lines) >= 12
    assert not [ln for ln in money_lines if FLOAT_ARTEFACT.search(ln)], money_lines
    assert stored == [(1, "integer"), (35, "integer"), (2139, "integer"), (3983, "integer")]
    assert "0.010000000000000000208" not in dump
    items = {i.name: i.value for i in db.session.scalars(select(RewardItem))}
    assert items == {"Item 0.01": D("0.01"), "Item 0.29": D("0.35"),
                     "Item 19.99": D("21.39"), "Item 33.33": D("39.83")}


def test_float_input_is_taken_by_its_text_and_extra_places_are_refused(rw):
    item = services.create_item(db.session, name="F", kind="gift", net_value=0.1,
                                vat_rate=0, now=NOW)
    assert item.net_value == D("0.10")
    db.session.add(RewardItem(name="bad", value=D("1.005"), net_value=D("1"), vat_rate=D(0),
                              kind="gift"))
    with pytest.raises(Exception, match="more than 2 decimal places"):
        db.session.flush()
    db.session.rollback()


def test_postgres_keeps_numeric_columns(pg_app):
    with pg_app.app_context():
        types = dict(db.session.execute(text(
            "SELECT table_name || '.' || column_name, data_type || '(' || numeric_precision "
            "|| ',' || numeric_scale || ')' FROM information_schema.columns "
            "WHERE column_name IN ('value', 'net_value', 'vat_rate', 'gift_limit') "
            "AND table_name LIKE 'reward%'")).all())
    assert types == {"reward_items.value": "numeric(10,2)",
                     "reward_items.net_value": "numeric(10,2)",
                     "reward_items.vat_rate": "numeric(5,2)",
                     "reward_grants.value": "numeric(10,2)",
                     "reward_grants.net_value": "numeric(10,2)",
                     "reward_grants.vat_rate": "numeric(5,2)",
                     "reward_tax_years.gift_limit": "numeric(10,2)"}


# --- item 13: four eyes -----------------------------------------------------------------

def test_the_proposer_cannot_approve_by_default(rw_any):
    m = make_member()
    anna, ben = make_user(), make_user()
    item = services.create_item(db.session, name="Mug", kind="gift", net_value="8.40",
                                vat_rate="19", now=NOW)
    plan = services.plan_grants(db.session, item_id=item.id, member_ids=[m.id], now=NOW,
                                tz_name=TZ)
    grant = services.execute_plan(db.session, plan, reason="", event_id=None,
                                  by_user_id=anna.id, now=NOW, target="member")
    with pytest.raises(services.FourEyesRequired):
        services.decide(db.session, grant, approve=True, by_user_id=anna.id, now=NOW)
    with pytest.raises(services.FourEyesRequired):
        services.decide(db.session, grant, approve=True, by_user_id=None, now=NOW)
    assert grant.status == "proposed"
    services.decide(db.session, grant, approve=True, by_user_id=ben.id, now=NOW)
    assert (grant.status, grant.approved_by_id) == ("approved", ben.id)
    entry = db.session.scalars(select(AuditEntry).where(
        AuditEntry.action == "rewards.approve")).one()
    assert entry.after == {"status": "approved", "proposed_by": anna.id, "four_eyes": True}


def test_threshold_and_switch_are_audited_settings(rw_any):
    m = make_member()
    anna = make_user()
    services.save_four_eyes(db.session, FourEyes(enabled=True, above=D("50.00")))
    small = services.create_item(db.session, name="Mug", kind="gift", net_value="50.00",
                                 vat_rate="0", now=NOW)
    big = services.create_item(db.session, name="Bag", kind="gift", net_value="50.01",
                               vat_rate="0", now=NOW)
    grants = []
    for item in (small, big):
        plan = services.plan_grants(db.session, item_id=item.id, member_ids=[m.id], now=NOW,
                                    tz_name=TZ)
        grants.append(services.execute_plan(db.session, plan, reason="", event_id=None,
                                            by_user_id=anna.id, now=NOW, target="member"))
    services.decide(db.session, grants[0], approve=True, by_user_id=anna.id, now=NOW)
    with pytest.raises(services.FourEyesRequired):
        services.decide(db.session, grants[1], approve=True, by_user_id=anna.id, now=NOW)
    services.decide(db.session, grants[1], approve=False, by_user_id=anna.id, now=NOW)
    assert [g.status for g in grants] == ["approved", "rejected"]
    services.save_four_eyes(db.session, FourEyes(enabled=False, above=D("50.00")))
    entries = db.session.scalars(select(AuditEntry).where(
        AuditEntry.action == "rewards.four_eyes").order_by(AuditEntry.id)).all()
    assert [e.after for e in entries] == [{"enabled": True, "above": "50.00"},
                                         {"enabled": False, "above": "50.00"}]
    assert not services.four_eyes_source(db.session).is_default


def test_grants_page_hides_approve_from_the_proposer(pages, client, login_as):
    manager_id, _ = login_as("manager")
    with pages.app_context():
        m = make_member()
        item = services.create_item(db.session, name="Mug", kind="gift", net_value="10",
                                    vat_rate="19", now=NOW)
        plan = services.plan_grants(db.session, item_id=item.id, member_ids=[m.id], now=NOW,
                                    tz_name=TZ)
        services.execute_plan(db.session, plan, reason="", event_id=None,
                              by_user_id=manager_id, now=NOW, target="member")
        db.session.commit()
    html = client.get("/rewards/grants").get_data(as_text=True)
    assert "someone else approves (four eyes)" in html and ">Approve<" not in html
    login_as("manager")
    html = client.get("/rewards/grants").get_data(as_text=True)
    assert ">Approve<" in html
    html = client.get("/rewards/settings").get_data(as_text=True)
    assert "Source: built-in default" in html
    r = client.post("/rewards/settings/approval", data={
        "csrf_token": csrf_token(client, "/rewards/settings"), "four_eyes": "y",
        "four_eyes_above": "25", "company": "Beispiel Telekom GmbH"})
    assert r.status_code == 302
    with pages.app_context():
        assert services.four_eyes(db.session) == FourEyes(True, D("25.00"))
        assert services.company_name(db.session) == "Beispiel Telekom GmbH"
    assert "Source: changed on" in client.get("/rewards/settings").get_data(as_text=True)


# --- the § 37b notice -------------------------------------------------------------------

def test_notice_page_and_text_for_an_opted_in_year(pages, client, login_as):
    with pages.app_context():
        m = make_member(display_name="Erika Muster")
        proposer, approver = make_user(), make_user()
        hoodie = services.create_item(db.session, name="Hoodie", kind="gift",
                                      net_value="42.02", vat_rate="19", now=AT_2024)
        pen = services.create_item(db.session, name="Kuli", kind="gift", net_value="4.20",
                                   vat_rate="19", now=AT_2024)
        _give(m, hoodie, AT_2024, proposer, approver)
        _give(m, pen, AT_2024, proposer, approver)
        services.save_company_name(db.session, "Beispiel Telekom GmbH")
        db.session.commit()
        m = m.id
    login_as("hr")
    r = client.get(f"/rewards/ledger/2024/notice/{m}", follow_redirects=True)
    assert "the company did not opt in" in r.get_data(as_text=True)
    with pages.app_context():
        _set_year(2024, flat_tax_opted_in=True)
        db.session.commit()
    html = client.get(f"/rewards/ledger/2024/notice/{m}").get_data(as_text=True)
    assert "Erika Muster (Mitglieds-Nr." in html and "Hoodie  50,00 EUR" in html
    assert "Kuli" not in html  # a give-away: not in the flat-rate tax
    r = client.get(f"/rewards/ledger/2024/notice/{m}?format=txt")
    body = r.get_data(as_text=True)
    assert r.mimetype == "text/plain" and body.startswith("Beispiel Telekom GmbH\n")
    assert "Summe der pauschal besteuerten Zuwendungen: 50,00 EUR" in body
    ledger = client.get("/rewards/ledger?year=2024").get_data(as_text=True)
    assert f"/rewards/ledger/2024/notice/{m}" in ledger
    assert client.get(f"/rewards/ledger/2024/notice/{m + 99}").status_code == 404


# --- the closing note: one member's ledger for 2023 and 2024 --------------------------

def test_closing_note_ledger_of_one_member_for_2023_and_2024(rw_any, capsys):
    """Builds the ledger the closing note prints: the same member, two years, each year's
    own rules (2023: 35 EUR, not opted in; 2024: 50 EUR, § 37b opted in)."""
    m = make_member(display_name="Test Member")
    proposer, approver = make_user(), make_user()
    _set_year(2024, flat_tax_opted_in=True)
    catalogue = {name: services.create_item(db.session, name=name, kind=kind, net_value=net,
                                            vat_rate=vat, now=AT_2023)
                 for name, kind, net, vat in [
                     ("Community-Rucksack", "gift", "25.21", "19"),
                     ("Kugelschreiber-Set", "gift", "8.40", "19"),
                     ("Power-User-Hoodie", "gift", "42.02", "19"),
                     ("Sticker", "gift", "4.20", "19")]}
    for name, at in [("Community-Rucksack", AT_2023), ("Kugelschreiber-Set", AT_2023),
                     ("Power-User-Hoodie", AT_2024), ("Sticker", AT_2024)]:
        _give(m, catalogue[name], at, proposer, approver)
    db.session.commit()
    lines = {}
    out = []
    for year in (2023, 2024):
        s = services.tax_settings(db.session, year)
        (line,) = services.ledger(db.session, year, TZ)
        lines[year] = line
        opted = f"opted in, {s.flat_rate} %" if s.flat_tax_opted_in else "not opted in"
        out.append(f"{year}: rules: gift limit {s.gift_limit} EUR ({s.limit_basis}) "
                   f"[{s.gift_limit_source}]; § 37b {opted}, cap {s.flat_tax_cap}, "
                   f"give-aways <= {s.giveaway_limit}")
        for grant, item in db.session.execute(
                select(Grant, RewardItem.name).join(RewardItem)
                .where(Grant.member_id == m.id, Grant.year == year).order_by(Grant.id)):
            out.append(f"  {grant.granted_at.date()} {item}: net {grant.net_value} + "
                       f"{grant.vat_rate} % VAT = gross {grant.value}")
        out.append(f"  counted {line.total} -> {line.flag}; gross {line.gross}; "
                   f"§ 37b base {line.flat_base}; tax {line.tax}; give-aways {line.giveaways}")
    with capsys.disabled():
        print("\n" + "\n".join(out))
    assert (lines[2023].total, lines[2023].gross, lines[2023].flag, lines[2023].tax) == (
        D("33.61"), D("40.00"), Flag.OK, None)
    assert (lines[2024].total, lines[2024].gross, lines[2024].flag) == (
        D("46.22"), D("55.00"), Flag.OK)
    assert (lines[2024].flat_base, lines[2024].tax, lines[2024].giveaways) == (
        D("50.00"), D("15.00"), D("5.00"))
    assert services.tax_settings(db.session, 2023).gift_limit == D("35.00")
    assert services.tax_settings(db.session, 2024).gift_limit == D("50.00")
