"""Community: members."""
