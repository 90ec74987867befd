"""API resources of the events feature: events, invitations, check-ins, inbound mail."""
