"""``tfk <verb> <model> [options]``: one click group per verb, one sub-command per model.

Sub-commands are built on demand from the plugin's :class:`tfk.plugin.ModelInfo`, so ``tfk --help``
loads no plugin, and ``tfk infer lawdnet --help`` shows lawdnet's own infer options.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import click

from tfk import errors
from tfk.hookspecs import VERBS
from tfk.runner import UID_REQUIRED

VERB_HELP = {
    "preprocess": "Turn raw media into a subject's training/inference data (resumable steps).",
    "train": "Train or fine-tune a model on a preprocessed subject.",
    "infer": "Generate output (usually a talking-face video).",
    "evaluate": "Compute metrics (JSON + table).",
    "download-weights": "Fetch a model's weights into the store (same as `tfk weights pull MODEL`).",
    "serve": "Run a model as a local service.",
    "demo": "Run a model end to end on built-in media, offline (default model: lawdnet).",
}
#: the model ``tfk demo`` runs when none is named (the README's quick start)
DEFAULT_DEMO_MODEL = "lawdnet"


class OptionType(click.ParamType):
    """A click type that converts with the plain click type, then validates with :meth:`Option.check`."""

    def __init__(self, opt: Any):
        self.opt = opt
        if opt.choices:
            self.base: click.ParamType = click.Choice(list(opt.choices))
        elif opt.type is Path:
            self.base = click.Path(path_type=Path)
        else:
            self.base = {int: click.INT, float: click.FLOAT, str: click.STRING}.get(opt.type, click.STRING)
        self.name = self.base.name

    def get_metavar(self, param: click.Parameter, *args: Any, **kwargs: Any) -> str | None:
        return self.base.get_metavar(param, *args, **kwargs)

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        value = self.base.convert(value, param, ctx)
        try:
            return self.opt.check(value)
        except ValueError as exc:
            self.fail(str(exc), param, ctx)


def _uid_callback(verb: str, model: str, info: Any) -> Any:
    """``--uid`` checked at parse time (one-line usage error, exit 2): one subject, or ``a,b,c`` where the
    plugin declares that ``verb`` takes several (passed on as the checked ``a,b,c`` string)."""

    def check(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
        if value is None:
            return None
        from tfk.runner import resolve_uids

        return ",".join(resolve_uids(model, verb, info, value))

    return check


def _uid_help(verb: str, info: Any) -> str:
    text = "Subject id (workspace TFK_HOME/subjects/<uid>/<model>)."
    if info.takes_uids(verb):
        gate = info.uids_option(verb)
        text += " Several subjects: a,b,c" + (f" (with --{gate.replace('_', '-')})." if gate else ".")
    return text


def _params_for(verb: str, info: Any, model: str) -> list[click.Parameter]:
    params: list[click.Parameter] = []
    for opt in info.options_for(verb):
        if opt.argument:
            params.append(
                click.Argument(
                    [opt.dest],
                    type=OptionType(opt),
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
                    type=OptionType(opt),
                    default=opt.default,
                    required=opt.required,
                    help=opt.help,
                    multiple=opt.multiple,
                    show_default=opt.default is not None,
                    metavar=opt.metavar,
                )
            )
    if verb != "demo":
        params.append(
            click.Option(
                ["--uid"],
                default=None,
                required=verb in UID_REQUIRED or info.needs_uid(verb),
                callback=_uid_callback(verb, model, info),
                help=_uid_help(verb, info),
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


class ModelCommand(click.Command):
    def __init__(self, verb: str, model: str, info: Any):
        self.verb, self.model = verb, model
        help_text = info.stage_help.get(verb) or f"{VERB_HELP[verb]} ({model}: {info.summary})"
        super().__init__(name=model, params=_params_for(verb, info, model), help=help_text, callback=self._invoke)

    def _invoke(self, **values: Any) -> None:
        if self.verb == "train":
            from tfk.distributed import maybe_launch

            if maybe_launch(self, self.model, values):  # torchrun ran the workers (this same command)
                return
        from tfk.runner import run_stage

        core = {
            k: values.pop(k) for k in ("uid", "workspace", "device", "force", "from_step", "until_step") if k in values
        }
        result = run_stage(self.model, self.verb, values, **core)
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
    from tfk.device import resolve_device
    from tfk.media import preflight
    from tfk.metrics import evaluate_videos, metrics_table, write_metrics
    from tfk.progress import make_progress
    from tfk.runner import run_guard
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
        demo = verb == "demo"
        super().__init__(
            name=verb,
            help=VERB_HELP.get(verb, verb) + (" `tfk demo --help` shows lawdnet's demo options." if demo else ""),
            no_args_is_help=not demo,
        )
        self.verb = verb

    def list_commands(self, ctx: click.Context) -> list[str]:
        from tfk.registry import load_registry

        reg = load_registry()
        names = [n for n, lp in reg.plugins.items() if lp.ok and self.verb in lp.stages]
        return sorted(names) + sorted(BUILTINS.get(self.verb, {}))

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        from tfk.registry import load_registry

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

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if self.verb == "demo" and (not args or (args[0].startswith("-") and args[0] not in ("--help", "-h"))):
            args = [DEFAULT_DEMO_MODEL, *args]  # `tfk demo [OPTIONS]` runs the default model's demo
        return super().parse_args(ctx, args)

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        name = click.utils.make_str(args[0])
        cmd = self.get_command(ctx, name)
        return name, cmd, args[1:]


__all__ = ["VERBS", "ModelCommand", "OptionType", "VerbGroup"]
