"""API endpoints (placeholder until built)."""
