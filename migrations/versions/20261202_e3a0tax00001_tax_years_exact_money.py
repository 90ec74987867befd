"""tax rules per year (seeded with the German history), net value and VAT rate, exact money

Revision ID: e3a0tax00001
Revises: e3a0consent0001
Create Date: 2026-12-06 09:00:00

* `reward_tax_years`: one row of tax rules per calendar year, each figure with its source,
  seeded 2004-2026: gift limit 35 EUR up to 2023, 50 EUR from 2024; § 37b EStG (from 2007)
  not opted in, 30 %, 10,000 EUR per recipient and year, give-aways up to 10 EUR left out.
  The old global setting `rewards.tax` held the company's choices (opt-in, rate,
  hospitality); they are carried into the current year and later seeded years only, since
  nobody can tell which past year they were meant for. The statutory figures of past years
  stay as the law had them.
* Reward items and grants get `net_value` and `vat_rate`; existing rows only knew their
  gross value, so they get net = gross and 0 % VAT (the limit test then counts the gross
  amount, the cautious reading) until a manager edits the item.
* SQLite: amounts (and volunteer hours) were bound as binary floats; they are now whole
  cents in the same NUMERIC columns (see `engagement.db.ExactDecimal`). PostgreSQL already
  stored NUMERIC and keeps it.
"""
import json
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = 'e3a0tax00001'
down_revision = 'e3a0consent0001'
branch_labels = None
depends_on = None

SCALED = [('reward_items', 'value'), ('reward_grants', 'value'),
          ('events', 'per_attendee_cost'), ('event_roles', 'hours')]

LIMIT_2024 = ("§ 4 Abs. 5 Satz 1 Nr. 1 EStG i. d. F. des Wachstumschancengesetzes vom "
              "27.03.2024: Geschenke an Nicht-Arbeitnehmer bis 50 EUR je Empfänger und "
              "Wirtschaftsjahr (Freigrenze), für Wirtschaftsjahre ab 2024")
LIMIT_2004 = ("§ 4 Abs. 5 Satz 1 Nr. 1 EStG i. d. F. des Haushaltsbegleitgesetzes 2004: "
              "Geschenke an Nicht-Arbeitnehmer bis 35 EUR je Empfänger und Wirtschaftsjahr "
              "(Freigrenze), 2004 bis 2023")
BASIS = ("R 4.10 Abs. 3 EStR: bei Vorsteuerabzugsberechtigung ist der Nettobetrag "
         "maßgebend, sonst der Bruttobetrag")
OPT_IN = ("§ 37b Abs. 1 EStG: Wahlrecht des Zuwendenden, einheitlich für alle Zuwendungen "
          "eines Wirtschaftsjahres (BMF 19.05.2015, Rz. 4)")
OPT_IN_BEFORE_2007 = "§ 37b EStG gilt erst ab 2007 (Jahressteuergesetz 2007)"
RATE = ("§ 37b Abs. 1 Satz 1 EStG: 30 % der Aufwendungen einschließlich Umsatzsteuer "
        "(Satz 2)")
CAP = ("§ 37b Abs. 1 Satz 3 Nr. 1 EStG: ausgeschlossen, soweit die Aufwendungen je "
       "Empfänger und Wirtschaftsjahr 10.000 EUR übersteigen")
GIVEAWAY = ("BMF-Schreiben vom 19.05.2015 (IV C 6 - S 2297-b/14/10001), Rz. 10: "
            "Streuwerbeartikel bis 10 EUR werden nicht einbezogen")
FIRST, LAST = 2004, 2026


def _sqlite() -> bool:
    return op.get_bind().dialect.name == 'sqlite'


def _old_choices() -> dict:
    row = op.get_bind().execute(sa.text(
        "SELECT value FROM settings WHERE key = 'rewards.tax'")).first()
    if row is None:
        return {}
    value = row[0]
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return {}
    return value if isinstance(value, dict) else {}


def upgrade():
    sqlite = _sqlite()
    if sqlite:
        for table, column in SCALED:
            op.execute(f"UPDATE {table} SET {column} = CAST(ROUND({column} * 100) AS INTEGER) "
                       f"WHERE {column} IS NOT NULL")
    for table in ('reward_items', 'reward_grants'):
        op.add_column(table, sa.Column('net_value', sa.Numeric(precision=10, scale=2),
                                       nullable=False, server_default='0'))
        op.add_column(table, sa.Column('vat_rate', sa.Numeric(precision=5, scale=2),
                                       nullable=False, server_default='0'))
        op.execute(f"UPDATE {table} SET net_value = value, vat_rate = 0")
        if not sqlite:  # SQLite would rebuild the table for this; the default is harmless
            op.alter_column(table, 'net_value', server_default=None)
            op.alter_column(table, 'vat_rate', server_default=None)

    years = op.create_table(
        'reward_tax_years',
        sa.Column('year', sa.Integer(), autoincrement=False, nullable=False),
        sa.Column('gift_limit', sa.Numeric(precision=10, scale=2), nullable=False),
        sa.Column('gift_limit_source', sa.Text(), nullable=False),
        sa.Column('limit_basis', sa.Enum('net', 'gross', name='reward_limit_basis',
                                         native_enum=False, length=8), nullable=False),
        sa.Column('limit_basis_source', sa.Text(), nullable=False),
        sa.Column('flat_tax_opted_in', sa.Boolean(), nullable=False),
        sa.Column('flat_tax_source', sa.Text(), nullable=False),
        sa.Column('flat_rate', sa.Numeric(precision=5, scale=2), nullable=False),
        sa.Column('flat_rate_source', sa.Text(), nullable=False),
        sa.Column('flat_tax_cap', sa.Numeric(precision=10, scale=2), nullable=False),
        sa.Column('flat_tax_cap_source', sa.Text(), nullable=False),
        sa.Column('giveaway_limit', sa.Numeric(precision=10, scale=2), nullable=False),
        sa.Column('giveaway_source', sa.Text(), nullable=False),
        sa.Column('include_hospitality', sa.Boolean(), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint('year > 1900 AND year < 3000',
                           name=op.f('ck_reward_tax_years_year_range')),
        sa.PrimaryKeyConstraint('year', name=op.f('pk_reward_tax_years')),
    )
    old = _old_choices()
    now = datetime.now(UTC)
    scale = 100 if sqlite else 1  # SQLite holds whole cents (and hundredths of a percent)

    def amount(text):
        from decimal import Decimal
        value = Decimal(str(text))
        return int(value * 100) if sqlite else value

    rows = []
    for year in range(FIRST, LAST + 1):
        mine = year >= now.year  # the old global choices count from now on
        rate = old.get('flat_rate', '30') if mine else '30'
        try:
            rate_value = amount(rate)
        except ArithmeticError:
            rate_value = 30 * scale
        rows.append({
            'year': year,
            'gift_limit': amount('50.00' if year >= 2024 else '35.00'),
            'gift_limit_source': LIMIT_2024 if year >= 2024 else LIMIT_2004,
            'limit_basis': 'net', 'limit_basis_source': BASIS,
            'flat_tax_opted_in': bool(mine and year >= 2007 and old.get('flat_tax_opted_in')),
            'flat_tax_source': OPT_IN if year >= 2007 else OPT_IN_BEFORE_2007,
            'flat_rate': rate_value, 'flat_rate_source': RATE,
            'flat_tax_cap': amount('10000.00'), 'flat_tax_cap_source': CAP,
            'giveaway_limit': amount('10.00'), 'giveaway_source': GIVEAWAY,
            'include_hospitality': bool(mine and old.get('include_hospitality')),
            'updated_at': now if not sqlite else now.replace(tzinfo=None),
        })
    op.bulk_insert(years, rows)
    op.execute("DELETE FROM settings WHERE key = 'rewards.tax'")


def downgrade():
    sqlite = _sqlite()
    bind = op.get_bind()
    row = bind.execute(sa.text(
        "SELECT gift_limit, flat_rate, flat_tax_opted_in, include_hospitality "
        "FROM reward_tax_years WHERE year <= :y ORDER BY year DESC LIMIT 1"),
        {"y": datetime.now(UTC).year}).first()
    op.drop_table('reward_tax_years')
    if row is not None:
        div = 100 if sqlite else 1
        value = {"gift_limit": f"{row[0] / div:.2f}", "flat_rate": f"{row[1] / div:.2f}",
                 "flat_tax_opted_in": bool(row[2]), "include_hospitality": bool(row[3])}
        bind.execute(sa.text("DELETE FROM settings WHERE key = 'rewards.tax'"))
        settings = sa.table('settings', sa.column('key', sa.String),
                            sa.column('value', sa.JSON),
                            sa.column('updated_at', sa.DateTime(timezone=True)))
        bind.execute(settings.insert().values(key='rewards.tax', value=value,
                                              updated_at=datetime.now(UTC)))
    for table in ('reward_grants', 'reward_items'):
        if sqlite:  # native DROP COLUMN: a batch rebuild would trip the foreign keys
            op.execute(f"ALTER TABLE {table} DROP COLUMN vat_rate")
            op.execute(f"ALTER TABLE {table} DROP COLUMN net_value")
        else:
            op.drop_column(table, 'vat_rate')
            op.drop_column(table, 'net_value')
    if sqlite:
        for table, column in SCALED:
            op.execute(f"UPDATE {table} SET {column} = {column} / 100.0 "
                       f"WHERE {column} IS NOT NULL")
