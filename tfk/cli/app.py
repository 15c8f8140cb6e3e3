"""The command tree: static typer commands plus one dynamic group per stage verb."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from tfk import __version__

app = typer.Typer(
    name="tfk",
    help="talking-face kit: preprocess, train, infer and evaluate talking-face models.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    pretty_exceptions_show_locals=False,
    rich_markup_mode=None,
    add_completion=False,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"tfk {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    debug: bool = typer.Option(False, "--debug", help="Show tracebacks for errors."),
    progress: str = typer.Option("auto", "--progress", help="Progress output: auto, rich, plain or none."),
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Print the version."),
) -> None:
    """talking-face kit: one command line for five talking-face research models."""
    import os

    if progress not in ("auto", "rich", "plain", "none"):
        from tfk.errors import UsageError

        raise UsageError(f"--progress must be auto, rich, plain or none, not {progress!r}")
    os.environ["TFK_PROGRESS"] = progress
    if debug:
        os.environ["TFK_DEBUG"] = "1"


@app.command("models")
def models_cmd(as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """List installed model plugins: version, stages, status, weights."""
    from tfk.cli.models import list_models, render_models

    rows = list_models()
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
    else:
        render_models(rows)


@app.command("status")
def status_cmd(
    model: str = typer.Argument(..., help="Model name, e.g. ernerf."),
    uid: str = typer.Option(..., "--uid", help="Subject id."),
    workspace: Path = typer.Option(None, "--workspace", help="Workspace directory (default under TFK_HOME)."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Show each preprocessing step of a subject as done, skipped, stale or missing, with why."""
    from tfk.cli.status import show_status

    show_status(model, uid, workspace, as_json)


@app.command("doctor")
def doctor_cmd(
    model: str = typer.Argument(None, help="Only check this model's plugin."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Check ffmpeg, torch and devices, plugins, weights, TFK_HOME and network settings."""
    from tfk.cli.doctor import run_doctor

    code = run_doctor(model, as_json)
    if code:
        raise typer.Exit(code)


def _mount_weights() -> None:
    from tfk.cli.weights import app as weights_app

    app.add_typer(weights_app, name="weights", help="Manage the weights store: list, pull, verify, path, import, rm.")


_mount_weights()


def _mount_ui() -> None:
    from tfk.cli.ui import ui_cmd

    app.command("ui")(ui_cmd)


_mount_ui()


def build_command():
    """The click command for the whole CLI."""
    from tfk.cli.stages import VerbGroup
    from tfk.hookspecs import VERBS

    cmd = typer.main.get_command(app)
    for verb in VERBS:
        cmd.add_command(VerbGroup(verb), verb)
    from tfk.cli.batch import batch_group

    cmd.add_command(batch_group, "batch")
    return cmd
