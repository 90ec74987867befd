"""CLI commands of the community feature, gathered from its sub-packages."""
from flask import Flask


def init_app(app: Flask) -> None:
    from .importers.cli import import_community_command
    from .members.cli import export_members_command
    from .tiers.cli import compute_tiers_command

    for command in (import_community_command, compute_tiers_command, export_members_command):
        app.cli.add_command(command)
