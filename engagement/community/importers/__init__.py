"""Community: importers."""
