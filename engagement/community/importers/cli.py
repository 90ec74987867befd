import click

@click.command("import-community")
def import_community_command():
    pass
