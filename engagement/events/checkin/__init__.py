"""Check-in at the door: tickets with QR codes, scans, the door list, walk-ins, no-shows."""
