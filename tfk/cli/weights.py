"""``tfk weights list|pull|verify|path|import|rm``: manage the pretrained weights store.

Results go to stdout (``--json`` where a listing is printed); human messages go to stderr. Errors
are raised as :mod:`tfk.errors` exceptions; the top-level ``main`` prints them and sets the exit code.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from tfk.errors import ChecksumMismatch, MissingWeights, TfkError, UsageError

app = typer.Typer(
    name="weights",
    help="Manage pretrained weights: list, pull, verify, import licence-gated files, print paths.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_show_locals=False,
)


def _err_console():
    from tfk.console import err_console

    return err_console()


def _out_console():
    from rich.console import Console

    # Off a terminal (a pipe, a log) do not squeeze the table into 80 columns.
    return Console(highlight=False, width=None if sys.stdout.isatty() else 200)


def _describe(art, st: str, entry: dict | None, view: Path) -> dict:
    recorded = (entry or {}).get("sha256")
    return {
        "id": art.id,
        "filename": art.filename,
        "size": art.size if art.size is not None else (entry or {}).get("size"),
        "status": st,
        "sha256": art.sha256 or recorded,
        "pinned": bool(art.sha256) or (entry or {}).get("pin") == "import",
        "pin": "manifest" if art.sha256 else (entry or {}).get("pin"),
        "manual": art.manual,
        "optional": art.optional,
        "license": art.license,
        "used_by": list(art.used_by),
        "description": art.description,
        "source": (entry or {}).get("source"),
        "path": str(view) if st in ("verified", "present-unverified", "corrupt") else None,
    }


def _targets(targets: list[str] | None, all_: bool = False):
    from tfk.weights import catalog

    arts = catalog.all_artifacts()
    if not targets:
        return list(arts.values())
    return catalog.resolve(targets, arts)


@app.command("list")
def list_(
    targets: Annotated[list[str] | None, typer.Argument(metavar="[MODEL|ID]...", help="Models or ids.")] = None,
    missing: Annotated[bool, typer.Option("--missing", help="Only what is not present and verified.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON list on stdout.")] = False,
) -> None:
    """List artifacts with their status (verified, present-unverified, missing, corrupt, manual-required)."""
    from tfk.progress import human_size
    from tfk.weights.store import Store

    store = Store()
    index = store.read_index()
    rows = []
    for art in _targets(targets):
        entry = index.get(art.id)
        st = store.status(art, entry)
        if missing and st in ("verified", "present-unverified"):
            continue
        rows.append(_describe(art, st, entry, store.view_path(art)))
    if as_json:
        sys.stdout.write(json.dumps(rows, indent=2) + "\n")
        return
    if not rows:
        _err_console().print("nothing to list" if not missing else "nothing missing")
        return
    from rich.table import Table

    table = Table(box=None, pad_edge=False)
    table.add_column("id", no_wrap=True)
    table.add_column("size", no_wrap=True, justify="right")
    table.add_column("status", no_wrap=True)
    table.add_column("pin", no_wrap=True)
    table.add_column("licence", max_width=32, overflow="ellipsis", no_wrap=True)
    table.add_column("used by", overflow="fold")
    colours = {"verified": "green", "present-unverified": "yellow", "corrupt": "red", "manual-required": "magenta"}
    for r in rows:
        pin = "pinned" if r["pinned"] else ("unpinned" + (" (recorded)" if r["sha256"] else ""))
        c = colours.get(r["status"], "")
        table.add_row(
            r["id"],
            human_size(r["size"]),
            f"[{c}]{r['status']}[/]" if c else r["status"],
            pin,
            r["license"],
            ", ".join(r["used_by"]),
        )
    _out_console().print(table)


def _print_manual(console, art) -> None:
    console.print(f"\n{art.id} must be downloaded by hand (licence: {art.license}):", markup=False)
    if art.instructions:
        console.print(art.instructions, markup=False, highlight=False, soft_wrap=True)
    console.print(f"then run:\n  tfk weights import {art.id} /path/to/{art.filename}", markup=False)


@app.command()
def pull(
    targets: Annotated[list[str] | None, typer.Argument(metavar="MODEL|ID...", help="Models or ids.")] = None,
    all_: Annotated[bool, typer.Option("--all", help="Every known artifact.")] = False,
    mirror: Annotated[
        str | None, typer.Option("--mirror", metavar="URL", help="Mirror base(s) used instead of TFK_WEIGHTS_MIRROR.")
    ] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Only say what would be downloaded.")] = False,
    optional: Annotated[bool, typer.Option("--optional/--no-optional", help="Include optional artifacts.")] = True,
) -> None:
    """Download public artifacts (mirrors first); print instructions for licence-gated ones."""
    from tfk.weights import store

    if not targets and not all_:
        raise UsageError("name a model or an artifact id, or use --all", hint="tfk weights pull lawdnet")
    arts = _targets(targets if not all_ else None)
    if not optional and not all_:
        arts = [a for a in arts if not a.optional or (targets and a.id in targets)]
    console = _err_console()
    pending: TfkError | None = None
    try:
        results = store.pull(arts, progress=True, mirror=mirror, dry_run=dry_run)
    except TfkError as exc:  # still tell the user what they must fetch by hand, then fail
        pending = exc
        results = {a.id: "manual-required" for a in arts if a.manual and store.find(a) is None}
    for art in arts:
        r = results.get(art.id)
        if r == "would-download":
            console.print(f"would download {art.id} ({art.filename})", markup=False)
        elif r == "present" and not dry_run:
            console.print(f"{art.id}: present", markup=False)
    manual = [a for a in arts if results.get(a.id) == "manual-required"]
    for art in manual:
        _print_manual(console, art)
    if pending is not None:
        raise pending
    if manual:
        ids = ", ".join(a.id for a in manual)
        raise MissingWeights(
            f"{len(manual)} artifact(s) need a manual download: {ids}",
            hint=" ; ".join(f"tfk weights import {a.id} FILE" for a in manual),
            missing=[a.id for a in manual],
        )


@app.command()
def verify(
    ids: Annotated[list[str] | None, typer.Argument(metavar="[MODEL|ID]...", help="Default: all present.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print {id: status} as JSON on stdout.")] = False,
) -> None:
    """Re-hash present artifacts (ignoring stamps); exit 65 if any is corrupt."""
    from tfk.weights import catalog, store
    from tfk.weights.layout import _fix_command

    problem = store.Store().index_problem()
    if problem:
        _err_console().print(
            f"warning: the weights index {store.Store().index_path} is unreadable ({problem}); every present "
            "artifact is checked against its declaration (sha256, size, validator) and recorded again",
            markup=False,
        )
    results = store.verify(_targets(ids) if ids else None)
    if as_json:
        sys.stdout.write(json.dumps(results, indent=2) + "\n")
    else:
        for aid, st in results.items():
            sys.stdout.write(f"{st}\t{aid}\n")
        if not results:
            _err_console().print("nothing present to verify")
    corrupt = [i for i, s in results.items() if s == "corrupt"]
    if corrupt:
        raise ChecksumMismatch(
            f"{len(corrupt)} artifact(s) corrupt: {', '.join(corrupt)}",
            hint=" ; ".join(f"tfk weights rm {i} --yes && {_fix_command(catalog.get(i))}" for i in corrupt),
        )


@app.command()
def path(
    artifact_id: Annotated[str | None, typer.Argument(metavar="ID")] = None,
    root: Annotated[bool, typer.Option("--root", help="Print the store root instead.")] = False,
) -> None:
    """Print the absolute path of a present artifact (exactly one line on stdout)."""
    from tfk.weights import catalog
    from tfk.weights.store import Store, _manual_error

    store = Store()
    if root:
        sys.stdout.write(f"{store.root}\n")
        return
    if not artifact_id:
        raise UsageError("name an artifact id (or use --root)", hint="tfk weights path lawdnet/checkpoint_epoch_170")
    art = catalog.get(artifact_id)
    st = store.status(art)
    if st == "corrupt":
        raise ChecksumMismatch(f"{art.id} is corrupt", hint=f"tfk weights verify {art.id}")
    if st not in ("verified", "present-unverified"):
        if art.manual:
            raise _manual_error(art)
        raise MissingWeights(
            f"{art.id} is not in the weights store", hint=f"tfk weights pull {art.id}", missing=[art.id]
        )
    sys.stdout.write(f"{store.view_path(art)}\n")


@app.command("import")
def import_(
    artifact_id: Annotated[str, typer.Argument(metavar="ID")],
    file: Annotated[Path, typer.Argument(metavar="FILE")],
    move: Annotated[bool, typer.Option("--move", help="Delete FILE after a successful import.")] = False,
    copy: Annotated[bool, typer.Option("--copy", help="Copy FILE into the store (the default).")] = False,
) -> None:
    """Validate FILE (hash or structural check) and store it as ID, pinned; run its derive step."""
    from tfk.weights import catalog, store

    if move and copy:
        raise UsageError("--move and --copy exclude each other")
    art = catalog.get(artifact_id)
    view = store.import_file(art, file, move=move)
    entry = store.Store().entry(art.id) or {}
    console = _err_console()
    console.print(f"imported {art.id} (sha256 {entry.get('sha256', '?')[:16]}...)", markup=False)
    if art.license and art.license != "unknown":
        console.print(f"licence: {art.license} (your use must follow it)", markup=False)
    sys.stdout.write(f"{view}\n")


@app.command("rm")
def rm(
    artifact_id: Annotated[str, typer.Argument(metavar="ID")],
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
) -> None:
    """Remove an artifact from the store (its view, derived files and, if unshared, its blob)."""
    from tfk.weights import catalog, store

    art = catalog.get(artifact_id)
    if store.find(art) is None and store.Store().entry(art.id) is None:
        _err_console().print(f"{art.id} is not in the store; nothing to remove", markup=False)
        return
    if not yes:
        if not sys.stdin.isatty():
            raise UsageError(f"refusing to remove {art.id} without confirmation", hint=f"tfk weights rm {art.id} --yes")
        what = " (a manual download: you will have to import it again)" if art.manual else ""
        if not typer.confirm(f"remove {art.id}{what}?", err=True):
            raise typer.Exit(1)
    store.remove(art)
    _err_console().print(f"removed {art.id}", markup=False)
