"""The weighted contribution score (Khoros-style), with weights stored as a setting."""
from __future__ import annotations

from dataclasses import asdict, dataclass

from sqlalchemy.orm import Session

from ..settings import get_setting

SETTING_KEY = "score_weights"


@dataclass(frozen=True)
class ScoreWeights:
    """Points per unit of activity; defaults follow common community-platform rank formulas."""

    posts: int = 0
    answers: int = 2
    accepted_solutions: int = 15
    kudos_received: int = 4

    def score(self, posts: int, answers: int, accepted_solutions: int, kudos_received: int) -> int:
        return (self.posts * posts + self.answers * answers
                + self.accepted_solutions * accepted_solutions
                + self.kudos_received * kudos_received)

    def sql(self, prefix: str = "") -> str:
        """The score as a SQL expression over columns named like the metrics."""
        return (f"({self.posts} * {prefix}posts + {self.answers} * {prefix}answers"
                f" + {self.accepted_solutions} * {prefix}accepted_solutions"
                f" + {self.kudos_received} * {prefix}kudos_received)")

    def describe(self) -> str:
        parts = [f"{k}×{v}" for k, v in asdict(self).items() if v]
        return " + ".join(parts)


def load_weights(session: Session) -> ScoreWeights:
    """The configured weights (integers only: they end up inside SQL)."""
    stored = get_setting(session, SETTING_KEY) or {}
    fields = {k: int(v) for k, v in stored.items() if k in ScoreWeights.__dataclass_fields__}
    return ScoreWeights(**fields)
