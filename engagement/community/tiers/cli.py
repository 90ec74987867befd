import click

@click.command("compute-tiers")
def compute_tiers_command():
    pass
