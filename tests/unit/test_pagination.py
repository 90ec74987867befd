"""Page arithmetic of the kernel: a page past the end is empty, or the last one for UI lists."""
from __future__ import annotations

import pytest

from engagement.db import paginate_list


@pytest.mark.parametrize("page, shows_last, expected_page, expected_items", [
    (1, False, 1, [1, 2]),
    (3, False, 3, [5]),
    (9, False, 9, []),
    (9, True, 3, [5]),
    (2, True, 2, [3, 4]),
])
def test_pages_of_a_list(page, shows_last, expected_page, expected_items):
    result = paginate_list([1, 2, 3, 4, 5], page=page, per_page=2,
                           past_end_shows_last=shows_last)
    assert (result.page, result.items, result.pages, result.total) == (
        expected_page, expected_items, 3, 5)


def test_an_empty_list_has_one_empty_page():
    result = paginate_list([], page=4, per_page=2, past_end_shows_last=True)
    assert (result.page, result.items, result.pages) == (1, [], 1)
