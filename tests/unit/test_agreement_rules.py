"""Pure agreement rules: the member's state for the current version, accept and withdraw."""
from __future__ import annotations

import pytest

from engagement.records.rules import (
    Acceptance,
    AgreementRefused,
    AgreementState,
    agreement_state,
    check_accept,
    check_withdraw,
)


@pytest.mark.parametrize("current, acceptances, expected", [
    (1, [], AgreementState.OPEN),
    (1, [Acceptance(1)], AgreementState.ACCEPTED),
    (2, [Acceptance(1)], AgreementState.OUTDATED),
    (2, [Acceptance(1), Acceptance(2, withdrawn=True)], AgreementState.WITHDRAWN),
    # Accepted again after withdrawing: in force again.
    (2, [Acceptance(2, withdrawn=True), Acceptance(2)], AgreementState.ACCEPTED),
    # Withdrawing an old version says nothing about the current text.
    (2, [Acceptance(1, withdrawn=True)], AgreementState.OUTDATED),
])
def test_agreement_state(current, acceptances, expected):
    assert agreement_state(current, acceptances) == expected


@pytest.mark.parametrize("version, current, state, refusal", [
    (1, 2, AgreementState.OUTDATED, "not_current"),
    (2, 2, AgreementState.ACCEPTED, "already_accepted"),
    (2, 2, AgreementState.WITHDRAWN, None),
    (1, 1, AgreementState.OPEN, None),
])
def test_check_accept(version, current, state, refusal):
    if refusal is None:
        check_accept(version=version, current_version=current, state=state)
        return
    with pytest.raises(AgreementRefused, match=refusal):
        check_accept(version=version, current_version=current, state=state)


@pytest.mark.parametrize("withdrawable, withdrawn, refusal", [
    (False, False, "not_withdrawable"), (True, True, "already_withdrawn"), (True, False, None)])
def test_check_withdraw(withdrawable, withdrawn, refusal):
    if refusal is None:
        check_withdraw(withdrawable=withdrawable, withdrawn=withdrawn)
        return
    with pytest.raises(AgreementRefused, match=refusal):
        check_withdraw(withdrawable=withdrawable, withdrawn=withdrawn)
