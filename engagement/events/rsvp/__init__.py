"""RSVP: answering an invitation, the waiting list and its offers, consents, reminders."""
