"""default tiers: Rising, Contributor, Expert, Power User, Legend

Revision ID: 3c9e1f7a2b4d
Revises: 85531647127b
Create Date: 2026-11-26 09:00:00

Data only. The ladder follows what large support communities run: a Khoros-style weighted
score (replies x2 + accepted solutions x15 + kudos received x4) for the entry ranks, and
answer/solution thresholds, lifetime or over the last 365 days, for the top ranks (so both
long-standing veterans and this year's most active helpers qualify). Ranks are spaced by
10 so managers can slot tiers in between.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '3c9e1f7a2b4d'
down_revision = '85531647127b'
branch_labels = None
depends_on = None

DEFAULT_TIERS = [
    dict(name="Rising", rank=10, color="#0369a1", grace_days=30,
         rule="score >= 50 or posts[90d] >= 10",
         description="New members who have started to help: a first reputation, or regular "
                     "posting over the last three months."),
    dict(name="Contributor", rank=20, color="#15803d", grace_days=90,
         rule="score >= 1,000 or (answers[365d] >= 50 and accepted_solutions[365d] >= 5)",
         description="Members who answer regularly and whose answers solve problems."),
    dict(name="Expert", rank=30, color="#6d28d9", grace_days=90,
         rule="(answers >= 1,000 and accepted_solutions >= 150)"
              " or (answers[365d] >= 300 and accepted_solutions[365d] >= 50)",
         description="Recognised experts: a thousand answers, or several hundred this year, "
                     "with a strong solution record."),
    dict(name="Power User", rank=40, color="#be185d", grace_days=90,
         rule="answers >= 10,000 or (answers[365d] >= 1,500 and accepted_solutions[365d] >= 300)",
         description="The volunteers who carry the community: over 10,000 answers, or 1,500 "
                     "answers and 300 accepted solutions in the last year."),
    dict(name="Legend", rank=50, color="#92400e", grace_days=180,
         rule="answers >= 25,000 and accepted_solutions >= 5,000 and tenure_days >= 1,825",
         description="Long-standing pillars: 25,000 answers, 5,000 accepted solutions and at "
                     "least five years in the community."),
]

tiers = sa.table(
    "tiers",
    sa.column("name", sa.String), sa.column("rank", sa.Integer), sa.column("rule", sa.Text),
    sa.column("description", sa.Text), sa.column("color", sa.String),
    sa.column("grace_days", sa.Integer), sa.column("updated_at", sa.DateTime(timezone=True)),
)


def upgrade():
    bind = op.get_bind()
    taken = {row[0] for row in bind.execute(sa.select(tiers.c.name))}
    taken_ranks = {row[0] for row in bind.execute(sa.select(tiers.c.rank))}
    for tier in DEFAULT_TIERS:
        # A database that already has a tier of that name or rank keeps its own.
        if tier["name"] in taken or tier["rank"] in taken_ranks:
            continue
        bind.execute(tiers.insert().values(**tier, updated_at=sa.func.current_timestamp()))


def downgrade():
    names = [t["name"] for t in DEFAULT_TIERS]
    op.get_bind().execute(tiers.delete().where(tiers.c.name.in_(names)))
