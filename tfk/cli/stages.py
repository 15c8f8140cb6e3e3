"""``tfk <verb> <model> [options]``: one click group per verb, one sub-command per model.

Sub-commands are built on demand from the plugin's :class:`tfk.plugin.ModelInfo`, so ``tfk --help``
loads no plugin, and ``tfk infer lawdnet --help`` shows lawdnet's own infer options.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click

from tfk import errors
from tfk.hookspecs import VERBS

VERB_HELP = {
    "preprocess": "Turn raw media into a subject's training/inference data (resumable steps).",
    "train": "Train or fine-tune a model on a preprocessed subject.",
    "infer": "Generate output (usually a talking-face video).",
    "evaluate": "Compute metrics (JSON + table).",
    "download-weights": "Fetch a model's weights into the store (same as `tfk weights pull MODEL`).",
    "serve": "Run a model as a local service.",
}
UID_REQUIRED = {"preprocess", "train"}
RUN_VERBS = {"train", "infer", "evaluate"}


def _click_type(opt: Any) -> Any:
    if opt.choices:
        return click.Choice(list(opt.choices))
    if opt.type is Path:
        return click.Path(path_type=Path)
    return {int: click.INT, float: click.FLOAT, str: click.STRING}.get(opt.type, click.STRING)


def _params_for(verb: str, info: Any) -> list[click.Parameter]:
    params: list[click.Parameter] = []
    for opt in info.options_for(verb):
        if opt.argument:
            params.append(
                click.Argument(
                    [opt.dest],
                    type=_click_type(opt),
                    required=opt.required,
                    nargs=-1 if opt.multiple else 1,
                    metavar=opt.metavar,
                )
            )
            continue
        decls = [opt.flag] + ([opt.short] if opt.short else [])
        if opt.type is bool:
            decls = [f"{opt.flag}/--no-{opt.flag[2:]}"] + ([opt.short] if opt.short else [])
            params.append(click.Option([*decls, opt.dest], default=bool(opt.default), help=opt.help, show_default=True))
        else:
            params.append(
                click.Option(
                    [*decls, opt.dest],
                    type=_click_type(opt),
                    default=opt.default,
                    required=opt.required,
                    help=opt.help,
                    multiple=opt.multiple,
                    show_default=opt.default is not None,
                    metavar=opt.metavar,
                )
            )
    params.append(
        click.Option(
            ["--uid"],
            default=None,
            required=verb in UID_REQUIRED,
            help="Subject id (workspace TFK_HOME/subjects/<uid>/<model>).",
        )
    )
    params.append(
        click.Option(
            ["--workspace"],
            type=click.Path(path_type=Path),
            default=None,
            help="Use this directory as the subject workspace.",
        )
    )
    params.append(click.Option(["--device"], default="auto", show_default=True, help="cpu, cuda, cuda:N or auto."))
    if verb == "preprocess":
        params.append(click.Option(["--force"], is_flag=True, help="Redo every step."))
        params.append(click.Option(["--from", "from_step"], default=None, help="Redo from this step on."))
        params.append(click.Option(["--until", "until_step"], default=None, help="Stop after this step."))
    if verb == "train":  # torchrun's multi-node options (tfk.distributed)
        from tfk.distributed import launch_params

        params += launch_params({p.name for p in params if p.name})
    return params


def resolve_device(device: str) -> str:
    """``auto`` -> ``cuda`` when torch sees a GPU, else ``cpu``; ``cuda`` without a GPU is an error."""
    import importlib.util

    if device == "cpu":
        return device
    has_torch = importlib.util.find_spec("torch") is not None
    if device == "auto":
        if has_torch:
            import torch

            return "cuda" if torch.cuda.is_available() else "cpu"
        return "cpu"
    if device.startswith("cuda"):
        if not has_torch:
            raise errors.DeviceUnavailable(f"--device {device} needs torch, which is not installed")
        import torch

        if not torch.cuda.is_available():
            raise errors.DeviceUnavailable(f"--device {device}: no CUDA GPU is available here", hint="use --device cpu")
        return device
    if device == "mps":
        return device
    raise errors.UsageError(f"unknown --device {device!r}: use cpu, cuda, cuda:N or auto")


def _preflight_inputs(verb: str, info: Any, values: dict[str, Any]) -> None:
    for opt in info.options_for(verb):
        value = values.get(opt.dest)
        if value is None or not (opt.exists or opt.media):
            continue
        for v in value if isinstance(value, tuple | list) else [value]:
            path = Path(v)
            if not path.exists():
                raise errors.InputNotFound(f"{opt.flag[2:]} file not found: {path}")
            if opt.media and opt.media != "image" and not path.is_dir():
                from tfk.media import preflight

                preflight(path, video="video" in opt.media, audio="audio" in opt.media)


def _print_result(verb: str, result: Any) -> None:
    if result is None:
        return
    if isinstance(result, dict):
        click.echo(json.dumps(result, indent=2, sort_keys=True, default=str))
    elif isinstance(result, list | tuple):
        for item in result:
            click.echo(str(item))
    else:
        click.echo(str(result))


def _report_metrics(model: str, result: dict[str, Any], run: Any) -> None:
    """Rich table on stderr and ``metrics.json`` in the run directory."""
    from tfk.console import err_console
    from tfk.metrics import metrics_table, write_metrics

    doc = result if "metrics" in result else {"metrics": result}
    err_console().print(metrics_table(doc))
    if run is not None:
        write_metrics({"model": model, "run_id": run.manifest["run_id"], **doc}, run.dir / "metrics.json")
        run.record_output("metrics", run.dir / "metrics.json")


@contextmanager
def run_guard(run: Any, verb: str, plugin: str | None = None) -> Iterator[None]:
    """Record timing and exit status in ``run``'s manifest whatever happens inside.

    A non-tfk exception is tagged as a crash of ``plugin`` (exit 70) and its traceback kept in
    ``crash.txt`` of the run directory.
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
        raise
    except Exception as exc:
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


def run_verb(verb: str, model: str, values: dict[str, Any]) -> Any:
    """Build the stage context around a plugin call: preflight, workspace, run dir, progress."""
    from tfk.plugin import StageContext
    from tfk.plugins import load_registry
    from tfk.progress import make_progress
    from tfk.workspace import Run, Workspace

    reg = load_registry()
    lp = reg.get(model)
    if verb not in lp.stages:
        raise errors.StageNotImplemented(
            f"{model} does not implement {verb}", hint=f"{model} implements: {', '.join(lp.stages) or 'nothing'}"
        )
    uid = values.pop("uid", None)
    ws_dir = values.pop("workspace", None)
    device = resolve_device(values.pop("device", "auto"))
    force = values.pop("force", False)
    from_step, until_step = values.pop("from_step", None), values.pop("until_step", None)
    _preflight_inputs(verb, lp.info, values)
    if ws_dir is not None and uid is None:
        raise errors.UsageError("--workspace needs --uid (the subject the workspace belongs to)")
    workspace = Workspace.for_subject(model, uid, ws_dir) if uid else None  # click requires --uid where needed
    run = None
    if verb in RUN_VERBS:
        run = Run.create(model, verb, uid=uid, plugin_version=lp.version, device=device)
        run.set_config({**values, "uid": uid, "device": device})
    progress = make_progress(os.environ.get("TFK_PROGRESS", "auto"))
    ctx = StageContext(
        model=model,
        stage=verb,
        home=_home(),
        device=device,
        workspace=workspace,
        run=run,
        progress=progress,
        force=force,
        from_step=from_step,
        until_step=until_step,
        debug=bool(os.environ.get("TFK_DEBUG")),
    )
    try:
        with run_guard(run, verb, plugin=model):
            from tfk.weights import seed_library_caches

            seed_library_caches()
            result = reg.dispatch(model, verb, ctx, values)
    finally:
        progress.close()
    if verb == "evaluate" and isinstance(result, dict):
        _report_metrics(model, result, run)
    return result


def _home() -> Path:
    from tfk.paths import tfk_home

    return tfk_home()


class ModelCommand(click.Command):
    def __init__(self, verb: str, model: str, info: Any):
        self.verb, self.model = verb, model
        help_text = info.stage_help.get(verb) or f"{VERB_HELP[verb]} ({model}: {info.summary})"
        super().__init__(name=model, params=_params_for(verb, info), help=help_text, callback=self._invoke)

    def _invoke(self, **values: Any) -> None:
        if self.verb == "train":
            from tfk.distributed import maybe_launch

            if maybe_launch(self, self.model, values):  # torchrun ran the workers (this same command)
                return
        result = run_verb(self.verb, self.model, values)
        _print_result(self.verb, result)


@click.command("videos")
@click.argument("generated", type=click.Path(path_type=Path))
@click.argument("reference", type=click.Path(path_type=Path))
@click.option(
    "--metrics",
    "metric_names",
    default=None,
    help="Comma-separated: psnr,ssim,lpips,lpips_vgg,fid,lmd,cpbd,lse (default: psnr,ssim,lpips,lmd,cpbd).",
)
@click.option("--audio", type=click.Path(path_type=Path), default=None, help="Audio for LSE (default: GENERATED's).")
@click.option("-o", "--output", type=click.Path(path_type=Path), default=None, help="Also write the JSON here.")
@click.option("--device", default="auto", show_default=True, help="cpu, cuda, cuda:N or auto.")
def evaluate_videos_cmd(
    generated: Path, reference: Path, metric_names: str | None, audio: Path | None, output: Path | None, device: str
) -> None:
    """Compare a generated video with a ground-truth video of the same length (any model's output)."""
    from tfk.console import err_console
    from tfk.media import preflight
    from tfk.metrics import evaluate_videos, metrics_table, write_metrics
    from tfk.progress import make_progress
    from tfk.workspace import Run

    for p in (generated, reference):
        if not p.exists():
            raise errors.InputNotFound(f"video file not found: {p}")
        preflight(p, video=True)
    dev = resolve_device(device)
    run = Run.create("videos", "evaluate", device=dev)
    run.set_config({"generated": generated, "reference": reference, "metrics": metric_names, "audio": audio})
    progress = make_progress(os.environ.get("TFK_PROGRESS", "auto"))
    names = [m.strip() for m in metric_names.split(",") if m.strip()] if metric_names else None
    try:
        with run_guard(run, "evaluate"):
            result = evaluate_videos(generated, reference, metrics=names, audio=audio, device=dev, progress=progress)
    finally:
        progress.close()
    err_console().print(metrics_table(result))
    write_metrics(result, run.dir / "metrics.json")
    if output is not None:
        write_metrics(result, output)
    click.echo(json.dumps(result, indent=2, sort_keys=True, default=str))


#: verb -> built-in sub-commands that are not models
BUILTINS: dict[str, dict[str, click.Command]] = {"evaluate": {"videos": evaluate_videos_cmd}}


class _DefaultPull(click.Command):
    """``tfk download-weights MODEL`` for a plugin without its own hook: pull its manifest."""

    def __init__(self, model: str):
        self.model = model
        super().__init__(
            name=model, help=f"Pull every public artifact {model} declares; list manual ones.", callback=self._invoke
        )

    def _invoke(self) -> None:
        from tfk.cli.weights import pull

        pull(targets=[self.model], all_=False, mirror=None, dry_run=False, optional=False)


class VerbGroup(click.Group):
    """``tfk <verb>``: its sub-commands are the installed models that implement the verb."""

    def __init__(self, verb: str):
        super().__init__(name=verb, help=VERB_HELP.get(verb, verb))
        self.verb = verb

    def list_commands(self, ctx: click.Context) -> list[str]:
        from tfk.plugins import load_registry

        reg = load_registry()
        names = [n for n, lp in reg.plugins.items() if lp.ok and self.verb in lp.stages]
        return sorted(names) + sorted(BUILTINS.get(self.verb, {}))

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        from tfk.plugins import load_registry

        if name in BUILTINS.get(self.verb, {}):
            return BUILTINS[self.verb][name]
        reg = load_registry()
        lp = reg.get(name)  # raises a clear error for unknown / missing / broken plugins
        if self.verb == "download-weights" and self.verb not in lp.stages:
            return _DefaultPull(name)
        if self.verb not in lp.stages:
            raise errors.StageNotImplemented(
                f"{name} does not implement {self.verb}", hint=f"{name} implements: {', '.join(lp.stages) or 'nothing'}"
            )
        return ModelCommand(self.verb, name, lp.info)

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        name = click.utils.make_str(args[0])
        cmd = self.get_command(ctx, name)
        return name, cmd, args[1:]


__all__ = ["VERBS", "VerbGroup", "run_verb"]
