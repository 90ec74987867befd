"""Community: tiers."""
