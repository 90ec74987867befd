"""CLI commands of the community feature, gathered from its sub-packages."""
from __future__ import annotations

from .importers.cli import import_community_command
from .members.cli import export_members_command
from .tiers.cli import compute_tiers_command

COMMANDS = (import_community_command, compute_tiers_command, export_members_command)
