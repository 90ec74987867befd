import click

@click.command("export-members")
def export_members_command():
    pass
