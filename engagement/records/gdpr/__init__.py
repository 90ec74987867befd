"""GDPR for members: access (services.export_member, readable, page, views) and erasure
(services.erase_member, audit, text, files), staff named by role (staff)."""
