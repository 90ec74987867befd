"""Retention periods per kind of personal data (rules), the purge (services) and the HR
page that shows what goes when (views)."""
