"""``tfk status MODEL --uid U``: each preprocessing step as done, skipped, stale or missing, with why."""

from __future__ import annotations

import json
from pathlib import Path

import click

from tfk import errors


def show_status(model: str, uid: str, workspace: Path | None, as_json: bool) -> None:
    from tfk.workspace import Pipeline, Workspace
    from tfk.workspace.pipeline import load_plan

    ws = Workspace.for_subject(model, uid, workspace)
    if not ws.root.exists():
        raise errors.InputNotFound(
            f"no workspace for subject '{uid}' of {model} at {ws.root}",
            hint=f"tfk preprocess {model} INPUT --uid {uid}",
        )
    steps = load_plan(ws)
    rows = [{"step": s.name, "state": s.state, "reason": s.reason} for s in Pipeline(ws, steps).status()]
    if as_json:
        click.echo(json.dumps({"model": model, "uid": uid, "workspace": str(ws.root), "steps": rows}, indent=2))
        return
    from rich.table import Table

    from tfk.console import err_console

    table = Table(title=f"{model} / {uid}  ({ws.root})")
    for col in ("step", "state", "why"):
        table.add_column(col)
    for r in rows:
        table.add_row(r["step"], r["state"], r["reason"])
    err_console().print(table)
    for r in rows:
        click.echo(f"{r['step']}\t{r['state']}\t{r['reason']}")
