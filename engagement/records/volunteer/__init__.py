"""Volunteer records per member and year: figures (services), the itemised record
(itemised), HR review and sign-off (views), event roles and agreements (admin_views)."""
