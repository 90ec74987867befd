"""Every registered route x every role: the permission map is declared and enforced."""
from __future__ import annotations

import pytest

from engagement.security import Role
from tests.helpers import check_route_role_matrix, routes

ROLES = [r.value for r in Role]


def test_every_route_declares_its_roles(app):
    missing = [r.endpoint for r, _ in routes(app)
               if not hasattr(app.view_functions[r.endpoint], "allowed_roles")]
    assert missing == [], f"routes without @roles_required/@public: {missing}"


@pytest.mark.parametrize("role", ROLES + ["anonymous"])
def test_route_role_matrix(app, role):
    assert check_route_role_matrix(app, role) >= 15
