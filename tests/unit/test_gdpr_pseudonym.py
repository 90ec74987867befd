"""The keyed pseudonym that replaces an erased member's platform id."""
from __future__ import annotations

from engagement.records.gdpr.services import ERASED_PREFIX, erased_external_id


def test_pseudonym_is_stable_keyed_and_fits_the_column():
    a = erased_external_id("key", "community", "12345")
    assert a == erased_external_id("key", "community", "12345")
    assert a.startswith(ERASED_PREFIX) and len(a) <= 64
    assert "12345" not in a
    assert a != erased_external_id("other key", "community", "12345")
    assert a != erased_external_id("key", "forum", "12345")
    # The separator keeps ("ab", "c") and ("a", "bc") apart.
    assert erased_external_id("k", "ab", "c") != erased_external_id("k", "a", "bc")
