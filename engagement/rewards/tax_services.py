"""Use cases for the tax rules of each year and the approval settings of rewards.

Like `services`: a session and values in, audit written, only flushed.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from .. import audit
from ..settings import Setting, get_setting, set_setting
from . import rules
from .models import TaxYear
from .rules import FourEyes, TaxSettings

FOUR_EYES_KEY = "rewards.four_eyes"
COMPANY_KEY = "rewards.company"


class RewardError(ValueError):
    """A request the rules refuse; the message is shown to the user."""


# --- tax rules per year -------------------------------------------------------------------

def tax_settings(session: Session, year: int) -> TaxSettings:
    """The rules of `year`: its own row, else the latest earlier year's (carried forward),
    else the earliest recorded year's; `inherited_from` says which."""
    row = session.get(TaxYear, year)
    if row is not None:
        return row.settings()
    row = (session.scalars(select(TaxYear).where(TaxYear.year < year)
                           .order_by(TaxYear.year.desc()).limit(1)).first()
           or session.scalars(select(TaxYear).order_by(TaxYear.year).limit(1)).first())
    if row is None:  # nothing recorded at all (a database that skipped the seed)
        return dataclasses.replace(rules.statutory(year), inherited_from=year)
    return dataclasses.replace(row.settings(), year=year, inherited_from=row.year)


def tax_years(session: Session) -> list[TaxYear]:
    """Every year with rules of its own, newest first."""
    return list(session.scalars(select(TaxYear).order_by(TaxYear.year.desc())))


def _write_year(session: Session, year: int, settings: TaxSettings, now: datetime) -> TaxYear:
    row = session.get(TaxYear, year)
    if row is None:
        row = TaxYear(year=year)
        session.add(row)
    for name in TaxSettings.FIGURES:
        setattr(row, name, getattr(settings, name))
    row.updated_at = now
    return row


def save_tax_year(session: Session, year: int, new: TaxSettings, *, now: datetime,
                  current_year: int) -> TaxSettings:
    """Change the rules of one year (audited). No other year changes: years up to
    `current_year` that were carrying this year's rules forward get them as their own
    first, so their ledgers stay as they were."""
    if not 1900 < year < 3000:
        raise RewardError("year: out of range")
    old = tax_settings(session, year)
    # The years that show this year's rules without having their own (decided before any
    # is written: each written year would otherwise become the next one's source).
    frozen = []
    for later in range(year + 1, current_year + 1):
        if session.get(TaxYear, later) is not None:
            break
        frozen.append(later)
    for later in frozen:
        _write_year(session, later, dataclasses.replace(old, year=later), now)
    _write_year(session, year, new, now)
    session.flush()
    audit.record(session, "rewards.tax_year", "reward_tax_year", year,
                 before=None if old.inherited_from is not None else old.to_mapping(),
                 after={**new.to_mapping(), "year": year,
                        **({"kept_for_years": frozen} if frozen else {}),
                        **({"was_inherited_from": old.inherited_from}
                           if old.inherited_from is not None else {})})
    return tax_settings(session, year)


# --- programme settings of rewards --------------------------------------------------------

@dataclass(frozen=True)
class SettingSource:
    """Where a run-time setting's value comes from: the default, or a change at a time."""

    changed_at: datetime | None  # None: the built-in default

    @property
    def is_default(self) -> bool:
        return self.changed_at is None


def _source(session: Session, key: str) -> SettingSource:
    row = session.get(Setting, key)
    return SettingSource(None if row is None else row.updated_at)


def four_eyes(session: Session) -> FourEyes:
    return FourEyes.from_mapping(get_setting(session, FOUR_EYES_KEY))


def four_eyes_source(session: Session) -> SettingSource:
    return _source(session, FOUR_EYES_KEY)


def save_four_eyes(session: Session, new: FourEyes) -> FourEyes:
    old = four_eyes(session)
    if old == new and not four_eyes_source(session).is_default:
        return old
    set_setting(session, FOUR_EYES_KEY, new.to_mapping())
    audit.record(session, "rewards.four_eyes", "setting", FOUR_EYES_KEY,
                 before=old.to_mapping(), after=new.to_mapping())
    return new


def company_name(session: Session) -> str:
    value = get_setting(session, COMPANY_KEY, "")
    return value if isinstance(value, str) else ""


def save_company_name(session: Session, name: str) -> str:
    old, name = company_name(session), (name or "").strip()[:300]
    if old != name:
        set_setting(session, COMPANY_KEY, name)
        audit.record(session, "rewards.company", "setting", COMPANY_KEY,
                     before={"name": old}, after={"name": name})
    return name


