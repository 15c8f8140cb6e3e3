"""The tfk command line (typer + rich). Entry point: :func:`tfk.cli.main.main`."""
