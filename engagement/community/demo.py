import click

@click.command("seed-demo")
def seed_demo_command():
    pass
