"""Demo rewards: a realistic catalogue (net price and VAT rate) and a few grants to top members.

Seeded once, when the catalogue is empty; everything goes through the services (audited).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..community.models import Member
from . import services
from .models import RewardItem


@dataclass(frozen=True)
class DemoItem:
    name: str
    description: str
    net_value: str  # EUR without VAT
    vat_rate: str  # percent
    kind: str


CATALOGUE = (
    DemoItem("Community-Tasse", "Keramiktasse mit Community-Logo, 330 ml", "8.40", "19", "gift"),
    DemoItem("Community-Hoodie", "Bio-Baumwolle, Größen XS–3XL, mit Stick", "29.41", "19",
             "gift"),
    DemoItem("Bluetooth-Headset", "Kabelloses Headset mit Mikrofon für Sprechstunden",
             "42.01", "19", "gift"),
    DemoItem("Fachbuch nach Wahl", "Ein Fachbuch bis 40 EUR, direkt vom Verlag", "37.38", "7",
             "gift"),
    DemoItem("Buchhandlungs-Gutschein", "Gutschein über 25 EUR", "25.00", "0", "voucher"),
    DemoItem("Ticket Community-Meetup", "Eintritt zum regionalen Meetup", "16.81", "19",
             "gift"),
    DemoItem("Ticket Fachkonferenz", "Tagesticket für eine Fachkonferenz nach Wahl", "84.03",
             "19", "gift"),
)

# (rank of the member by answers, item name, reason, approved?, fulfilment)
GRANTS = (
    (0, "Community-Hoodie", "Über 10.000 Antworten im Forum", True, "delivered"),
    (0, "Bluetooth-Headset", "Für die Sprechstunden im Community-Call", True, "shipped"),
    (1, "Ticket Fachkonferenz", "Vortrag über die Community auf der Konferenz", True, None),
    (2, "Community-Tasse", "Willkommen bei den Power Usern", True, "delivered"),
    (3, "Buchhandlungs-Gutschein", "Bestes Tutorial des Quartals", False, None),
    (4, "Fachbuch nach Wahl", "Viele gelöste Fragen zu Routern", False, None),
    (0, "Community-Tasse", "Jubiläum: fünf Jahre dabei", False, None),
)


def seed_demo_rewards(session: Session, *, now: datetime, tz_name: str) -> str | None:
    """Create the demo catalogue and grants once; returns a summary, or None when the
    catalogue has items already (so `seed-demo --if-empty` can run it every time)."""
    if session.scalar(select(RewardItem.id).limit(1)) is not None:
        return None
    items = {d.name: services.create_item(session, name=d.name, description=d.description,
                                          net_value=d.net_value, vat_rate=d.vat_rate,
                                          kind=d.kind, now=now)
             for d in CATALOGUE}
    top = list(session.scalars(select(Member.id).order_by(Member.answers.desc(), Member.id)
                               .limit(1 + max(rank for rank, *_ in GRANTS))))
    granted = 0
    for rank, name, reason, approve, fulfilment in GRANTS:
        if rank >= len(top):
            continue
        plan = services.plan_grants(session, item_id=items[name].id, member_ids=[top[rank]],
                                    now=now, tz_name=tz_name)
        grant = services.execute_plan(session, plan, reason=reason, event_id=None,
                                      by_user_id=None, now=now, target=f"member:{top[rank]}")
        if approve:
            services.decide(session, grant, approve=True, by_user_id=None, now=now)
            if fulfilment:
                services.set_fulfilment(session, grant, status=fulfilment, note="", now=now)
        granted += 1
    return (f"demo rewards: {len(items)} catalogue items, {granted} grants to the most "
            "active members")
