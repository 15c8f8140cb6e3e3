"""Running a stage: the one core service behind ``tfk <verb> MODEL``, ``serve``, the demo and the tests.

:func:`run_stage` does, in this order and once each: one registry lookup; the options parsed and
validated against the plugin's :class:`~tfk.plugin.Option` declarations (defaults filled in, bounds and
validators applied: usage errors, exit 2); outputs that would overwrite an input refused (exit 2); input
files checked (exit 66) and preflighted (exit 65; each file once per process, see
:func:`tfk.media.preflight`); one device resolution (:func:`tfk.device.resolve_device`); the subject
workspace(s), run directory and progress; the run guard (manifest, crash record, interruption); the dispatch
to that plugin's hook; and for ``evaluate`` the metrics table and ``metrics.json``.

``--uid`` names one subject, or several (``--uid a,b,c``) in a stage the plugin declares in
:attr:`tfk.plugin.ModelInfo.multi_uid_stages` (see :func:`resolve_uids`). A multi-subject run gets every
subject's workspace in ``ctx.workspaces`` (``ctx.workspace`` is None), each of which must exist (exit 66,
naming the subject), holds every subject's workspace lock while it runs (rank 0 of a distributed run), and
keeps its run directory under ``runs/<model>/<a+b+c>``.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tfk import errors

if TYPE_CHECKING:
    from tfk.plugin import Option
    from tfk.progress import Progress
    from tfk.workspace import Workspace

__all__ = [
    "RUN_VERBS",
    "UID_REQUIRED",
    "check_outputs",
    "parse_options",
    "preflight_inputs",
    "resolve_uids",
    "run_guard",
    "run_stage",
]

#: stages that need a subject
UID_REQUIRED = frozenset({"preprocess", "train"})
#: stages that get a run directory (manifest, log, outputs)
RUN_VERBS = frozenset({"train", "infer", "evaluate", "demo"})


def _flag(opt: Option) -> str:
    return opt.metavar or opt.dest.upper() if opt.argument else opt.flag


def parse_options(decls: list[Option], values: Mapping[str, Any]) -> dict[str, Any]:
    """``values`` checked against ``decls``: every declared option present (its default when unset).

    Unknown names, missing required options and invalid values are :class:`~tfk.errors.UsageError`.
    """
    by_dest = {o.dest: o for o in decls}
    unknown = sorted(set(values) - set(by_dest))
    if unknown:
        raise errors.UsageError(f"unknown option(s): {', '.join(unknown)}")
    out: dict[str, Any] = {}
    for opt in decls:
        raw = values.get(opt.dest)
        if raw is None or (opt.multiple and raw == ()):
            if opt.required:
                raise errors.UsageError(f"missing option {_flag(opt)}")
            raw = opt.default
        try:
            out[opt.dest] = opt.check(raw)
        except ValueError as exc:
            raise errors.UsageError(f"invalid value for {_flag(opt)}: {exc}") from None
        if opt.multiple and out[opt.dest] is None:
            out[opt.dest] = ()
    return out


def _paths(value: Any) -> list[Path]:
    if value is None:
        return []
    return [Path(v) for v in (value if isinstance(value, list | tuple) else [value])]


def _same_file(a: Path, b: Path) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return os.path.realpath(a) == os.path.realpath(b)


def check_outputs(decls: list[Option], options: Mapping[str, Any]) -> None:
    """Refuse (exit 2) an ``output=True`` path that is one of the input files (same file, also via links)."""
    inputs = [(o, p) for o in decls if o.is_input for p in _paths(options.get(o.dest))]
    for out_opt in (o for o in decls if o.output):
        for out in _paths(options.get(out_opt.dest)):
            for in_opt, src in inputs:
                if src.is_file() and _same_file(out, src):
                    raise errors.UsageError(
                        f"{_flag(out_opt)} {out} is the input {_flag(in_opt)} {src}; it would be overwritten",
                        hint=f"choose another path for {_flag(out_opt)}",
                    )


def preflight_inputs(decls: list[Option], options: Mapping[str, Any]) -> None:
    """Every declared input exists (exit 66) and media inputs pass :func:`tfk.media.preflight` (exit 65)."""
    for opt in decls:
        if not opt.is_input:
            continue
        for path in _paths(options.get(opt.dest)):
            if not path.exists():
                raise errors.InputNotFound(f"{opt.dest.replace('_', '-')} file not found: {path}")
            if opt.media and opt.media != "image" and not path.is_dir():
                from tfk.media import preflight

                preflight(path, video="video" in opt.media, audio="audio" in opt.media, decode=opt.decode)


@contextmanager
def run_guard(run: Any, verb: str, plugin: str | None = None) -> Iterator[None]:
    """Record timing and exit status in ``run``'s manifest whatever happens inside.

    Ctrl-C becomes :class:`~tfk.errors.Interrupted` (exit 130, one ``error: interrupted ...`` line); a
    non-tfk exception is tagged as a crash of ``plugin`` (exit 70) with its traceback in ``crash.txt``.
    """
    t0 = time.monotonic()
    code, error = 0, None
    try:
        yield
    except errors.TfkError as exc:
        code, error = int(exc.exit_code), exc
        raise
    except KeyboardInterrupt:
        code = int(errors.ExitCode.INTERRUPTED)
        error = errors.Interrupted(
            f"interrupted during {verb}; nothing half-written was kept", hint="run the same command again to resume"
        )
        raise error from None
    except Exception as exc:
        from tfk.fsutil import disk_error

        mapped = disk_error(exc, getattr(exc, "filename", None) or os.getcwd())
        if mapped is not None:  # a full disk or a read-only location is the user's to fix, not a crash
            code, error = int(getattr(mapped, "exit_code", errors.ExitCode.TEMPFAIL)), mapped
            raise mapped from exc
        code, error = int(errors.ExitCode.PLUGIN_CRASH if plugin else errors.ExitCode.INTERNAL), exc
        if plugin:
            exc._tfk_plugin = plugin  # type: ignore[attr-defined]
        if run is not None:
            import traceback

            (run.dir / "crash.txt").write_text("".join(traceback.format_exception(exc)))
        raise
    finally:
        if run is not None:
            run.timing(verb, time.monotonic() - t0)
            run.finish(code, error)


def resolve_uids(model: str, stage: str, info: Any, uid: str | Sequence[str] | None) -> tuple[str, ...]:
    """The subjects ``--uid`` names: ``()`` for none, one, or several where ``stage`` takes several.

    Each name passes :func:`~tfk.workspace.workspace.check_uid`; an empty name or a repeat is refused. A
    comma in ``--uid`` of any other stage is a usage error that says the stage takes one uid (exit 2).
    """
    from tfk.workspace.workspace import check_uid, split_uids

    if uid is None:
        return ()
    if isinstance(uid, str) and "," not in uid:
        return (check_uid(uid),)
    text = uid if isinstance(uid, str) else ",".join(map(str, uid))
    if "," in text and not (info is not None and info.takes_uids(stage)):
        hint = f"run tfk {stage} {model} once per subject"
        multi = [s for s in getattr(info, "multi_uid_stages", {}) if s != stage]
        if multi:
            hint += f" ({model} takes several uids in: {', '.join(sorted(multi))})"
        raise errors.UsageError(f"tfk {stage} {model} takes one --uid, got {text!r}", hint=hint)
    return split_uids(text)


def _check_several(model: str, stage: str, info: Any, uids: tuple[str, ...], opts: Mapping[str, Any]) -> None:
    """Several uids: only while the stage's gating option (``ModelInfo.multi_uid_stages``, e.g. ``--base``) is on."""
    gate = info.uids_option(stage) if info is not None else None
    if gate and not opts.get(gate):
        flag = "--" + gate.replace("_", "-")
        raise errors.UsageError(
            f"tfk {stage} {model} takes several uids only with {flag}",
            hint=f"tfk {stage} {model} --uid {','.join(uids)} {flag}, or one --uid",
        )


def _check_workspaces(model: str, workspaces: Sequence[Workspace]) -> None:
    """Every subject of a multi-subject run has a workspace (exit 66 naming the first that has none)."""
    for ws in workspaces:
        if not ws.root.is_dir():
            raise errors.InputNotFound(
                f"subject {ws.uid!r} has no {model} workspace ({ws.root})",
                hint=f"tfk preprocess {model} INPUT --uid {ws.uid}",
            )


@contextmanager
def _subject_locks(model: str, workspaces: Sequence[Workspace]) -> Iterator[None]:
    """Hold the workspace lock of every subject of a multi-subject run (in path order: no lock-order deadlock).

    Only rank 0 of a torchrun job locks (the other ranks are the same run). A single-subject stage locks its
    own workspace where it writes (:class:`~tfk.workspace.Pipeline`), as before.
    """
    with ExitStack() as stack:
        if len(workspaces) > 1 and int(os.environ.get("RANK", "0") or 0) == 0:
            from tfk.workspace.lock import workspace_lock

            for ws in sorted(workspaces, key=lambda w: str(w.root)):
                stack.enter_context(workspace_lock(ws.root, f"subject {ws.uid!r} ({model})"))
        yield


def _report_metrics(model: str, result: dict[str, Any], run: Any) -> None:
    """Rich table on stderr and ``metrics.json`` in the run directory."""
    from tfk.console import err_console
    from tfk.metrics import metrics_table, write_metrics

    doc = result if "metrics" in result else {"metrics": result}
    err_console().print(metrics_table(doc))
    if run is not None:
        write_metrics({"model": model, "run_id": run.manifest["run_id"], **doc}, run.dir / "metrics.json")
        run.record_output("metrics", run.dir / "metrics.json")


def run_stage(
    model: str,
    stage: str,
    options: Mapping[str, Any] | None = None,
    *,
    uid: str | Sequence[str] | None = None,
    workspace: str | os.PathLike[str] | None = None,
    device: str = "auto",
    force: bool = False,
    from_step: str | None = None,
    until_step: str | None = None,
    progress: Progress | None = None,
    home: str | os.PathLike[str] | None = None,
    runs_root: str | os.PathLike[str] | None = None,
    weights: Mapping[str, Path] | None = None,
) -> Any:
    """Run ``stage`` of ``model`` with ``options`` (keyed by :attr:`Option.dest`); return the hook's result.

    ``uid`` is one subject, or several (``"a,b,c"`` or a sequence) where the plugin declares the stage in
    ``ModelInfo.multi_uid_stages``. ``runs_root`` puts the run directory there (default
    ``TFK_HOME/runs/<model>/<uid>``, ``<a+b+c>`` for several subjects); ``weights``
    maps artifact ids to files that ``ctx.require`` returns instead of the store's (the demo's seeded
    front-end); ``progress`` defaults to the ``TFK_PROGRESS`` mode (and is closed here when made here).
    """
    from tfk.device import resolve_device
    from tfk.plugin import StageContext
    from tfk.registry import load_registry

    reg = load_registry()
    lp = reg.stage(model, stage)
    decls = lp.info.options_for(stage) if lp.info is not None else []
    opts = parse_options(decls, dict(options or {}))
    check_outputs(decls, opts)
    uids = resolve_uids(model, stage, lp.info, uid)
    if workspace is not None and not uids:
        raise errors.UsageError("--workspace needs --uid (the subject the workspace belongs to)")
    if not uids and (stage in UID_REQUIRED or (lp.info is not None and lp.info.needs_uid(stage))):
        raise errors.UsageError(f"{stage} {model} needs --uid (the subject's name)")
    if len(uids) > 1:
        _check_several(model, stage, lp.info, uids, opts)
        if workspace is not None:
            raise errors.UsageError("--workspace is one subject's workspace: it cannot go with several uids")
    from tfk.workspace import Run, Workspace
    from tfk.workspace.workspace import uids_label

    workspaces = tuple(Workspace.for_subject(model, u, workspace) for u in uids)
    ws = workspaces[0] if len(workspaces) == 1 else None
    if len(workspaces) > 1 and stage != "preprocess":
        _check_workspaces(model, workspaces)
    preflight_inputs(decls, opts)
    dev = resolve_device(device)
    run = None
    if stage in RUN_VERBS:
        label = uids_label(uids) if uids else None
        run = Run.create(model, stage, uid=label, plugin_version=lp.version, device=dev, root=runs_root)
        run.set_config({**opts, "uid": ",".join(uids) or None, "device": dev})
    own_progress = progress is None
    if progress is None:
        from tfk.progress import make_progress

        progress = make_progress(os.environ.get("TFK_PROGRESS", "auto"))
    if home is None:
        from tfk.paths import tfk_home

        home = tfk_home()
    ctx = StageContext(
        model=model,
        stage=stage,
        home=Path(home),
        device=dev,
        workspace=ws,
        run=run,
        progress=progress,
        force=force,
        from_step=from_step,
        until_step=until_step,
        debug=bool(os.environ.get("TFK_DEBUG")),
        weights=dict(weights or {}),
        uids=uids,
        workspaces=workspaces,
    )
    try:
        with run_guard(run, stage, plugin=model):
            from tfk.weights import seed_library_caches

            seed_library_caches()
            with _subject_locks(model, workspaces):
                result = reg.dispatch(model, stage, ctx, opts)
    finally:
        if own_progress:
            progress.close()
    if stage == "evaluate" and isinstance(result, dict):
        _report_metrics(model, result, run)
    return result
