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


def test_door_role_is_refused_an_unassigned_events_door_list(app):
    """The matrix calls door routes with an unknown event (404); a real one not assigned to
    the door-staff login answers 403, the assigned one 200."""
    from engagement.events.checkin import services as checkin
    from engagement.extensions import db
    from tests.checkin_helpers import future_event
    from tests.factories import make_user

    client = app.test_client()
    with app.app_context():
        assigned, unassigned = future_event(title="Assigned"), future_event(title="Not mine")
        door = make_user(role="door")
        checkin.assign_door_staff(db.session, assigned, door.id, now=assigned.starts_at)
        db.session.commit()
        ids, cookie_id = (assigned.id, unassigned.id), door.get_id()
    with client.session_transaction() as sess:
        sess["_user_id"] = cookie_id
    assert client.get(f"/events/{ids[1]}/door").status_code == 403
    assert client.get(f"/events/{ids[0]}/door").status_code == 200
