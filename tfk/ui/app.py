"""The ``tfk ui`` page: one tab per installed model that implements ``infer``, built with Gradio.

Each tab's form comes from the model's own ``Option`` declarations (:mod:`tfk.ui.forms`); Run calls
:func:`tfk.runner.run_stage`, the function behind ``tfk infer``, so the page has the CLI's errors, run
directories, manifests and weights store. Jobs run one at a time per model (a visible queue); errors are
shown as the CLI's one-line message, never a traceback.
"""

from __future__ import annotations

import contextlib
import json
import secrets
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tfk import errors
from tfk.progress import Progress, TaskHandle
from tfk.ui.forms import Field, fields_for, missing_weights, output_option, subjects

if TYPE_CHECKING:
    from tfk.plugin import ModelInfo

STAGE = "infer"
DEVICES = ("auto", "cpu", "cuda")


class PageProgress(Progress):
    """Feeds the stage's own progress reporter into the page's progress bar."""

    def __init__(self, report: Callable[[float | None, str], None]):
        self.report = report

    @contextmanager
    def task(self, description: str, total: float | None = None) -> Iterator[TaskHandle]:
        page = self

        class _Task:
            done = 0.0

            def advance(self, n: float = 1) -> None:
                self.done += n
                page.report(min(self.done / total, 1.0) if total else None, description)

        page.report(0.0 if total else None, description)
        yield _Task()


def jobs_root() -> Path:
    from tfk.paths import tfk_home

    return tfk_home() / "ui" / "jobs"


def error_text(exc: BaseException, model: str) -> str:
    """The CLI's one-line message for an exception (plus its hint line), never a traceback."""
    if isinstance(exc, errors.TfkError):
        return f"error: {exc.message}" + (f"\nhint: {exc.hint}" if exc.hint else "")
    msg = " ".join(str(exc).split()) or type(exc).__name__
    return f"error: unexpected error in plugin '{model}': {type(exc).__name__}: {msg}"


def _find_run(base: Path, before: set[str], output: Path) -> Path | None:
    """The run directory a job created under ``base`` (matched on its output path)."""
    if not base.is_dir():
        return None
    for d in sorted((p for p in base.iterdir() if p.name not in before), reverse=True):
        try:
            manifest = json.loads((d / "manifest.json").read_text())
        except (OSError, ValueError):
            continue
        if str(manifest.get("config", {}).get(output_key(manifest), "")) == str(output):
            return d
    return None


def output_key(manifest: dict[str, Any]) -> str:
    cfg = manifest.get("config", {})
    return next((k for k in ("output", "out") if k in cfg), "output")


def run_job(
    model: str,
    info: ModelInfo,
    fields: list[Field],
    values: list[Any],
    *,
    uid: str | None = None,
    device: str = "auto",
    report: Callable[[float | None, str], None] | None = None,
) -> dict[str, Any]:
    """Run one page job through the core stage runner; return what the page shows.

    ``{"status": line(s), "video": path|None, "log": text, "manifest": text}``. Never raises for a stage
    failure: the error becomes the status line, as the CLI would print it.
    """
    from tfk.paths import runs_root
    from tfk.runner import run_stage
    from tfk.ui.forms import to_options

    job_dir = jobs_root() / model / f"{time.strftime('%Y%m%d-%H%M%S')}-{secrets.token_hex(3)}"
    job_dir.mkdir(parents=True)
    out_opt = output_option(info, STAGE)
    output = job_dir / "result.mp4"
    base = runs_root() / model / (uid or "_")
    before = {p.name for p in base.iterdir()} if base.is_dir() else set()
    result: dict[str, Any] = {"status": "", "video": None, "log": "", "manifest": ""}
    try:
        options = to_options(fields, values)
        if out_opt is not None:
            options[out_opt.dest] = output
        progress = PageProgress(report) if report is not None else None
        produced = run_stage(model, STAGE, options, uid=uid or None, device=device, progress=progress)
        paths = [Path(p) for p in (produced if isinstance(produced, list | tuple) else [produced]) if p]
        video = next((p for p in paths if p.suffix.lower() in (".mp4", ".mov", ".webm") and p.is_file()), None)
        result["video"] = str(video) if video else None
        result["status"] = "done: " + ", ".join(p.name for p in paths) if paths else "done"
    except (errors.TfkError, Exception) as exc:  # noqa: BLE001 - the page shows one line, like the CLI
        text = error_text(exc, model)
        for f, v in zip(fields, values, strict=False):  # name the user's file, not the server's upload path
            if f.kind == "file" and v:
                text = text.replace(str(v), Path(str(v)).name)
        result["status"] = text.replace(str(output), output.name)
    run_dir = _find_run(base, before, output)
    if run_dir is not None:
        for key, name in (("log", "log.txt"), ("manifest", "manifest.json")):
            with contextlib.suppress(OSError):
                result[key] = (run_dir / name).read_text()
    return result


def _widget(gr: Any, model: str, field: Field) -> Any:
    common = {"label": field.label, "info": field.help or None, "elem_id": f"{model}-opt-{field.dest}"}
    if field.kind == "file":  # gr.File has no help line: the help goes into the label
        label = f"{field.label}: {field.help}" if field.help else field.label
        return gr.File(type="filepath", file_count="single", label=label, elem_id=common["elem_id"])
    if field.kind == "flag":
        return gr.Checkbox(value=bool(field.default), **common)
    if field.kind == "integer":
        return gr.Number(value=field.default, precision=0, **common)
    if field.kind == "number":
        return gr.Number(value=field.default, **common)
    if field.kind == "choice":
        choices = list(field.choices) if field.required or field.default is not None else ["", *field.choices]
        return gr.Dropdown(choices=choices, value=field.default if field.default is not None else "", **common)
    return gr.Textbox(value=field.default or "", **common)


def _weights_markdown(model: str) -> tuple[str, bool]:
    """Markdown listing missing weights with their commands, and whether the form can run."""
    missing = missing_weights(model, STAGE)
    if not missing:
        return "", True
    required = [m for m in missing if m.required]
    lines = ["**Weights missing**" + (" — this model cannot run until you get them:" if required else ":")]
    for m in missing:
        lines.append(f"- `{m.artifact_id}`{'' if m.required else ' (needed by some settings)'}: `{m.command}`")
    lines.append(f"\nOr fetch every public file at once: `tfk weights pull {model}`. Then reload this page.")
    return "\n".join(lines), not required


def _model_tab(gr: Any, model: str, info: ModelInfo) -> tuple[Any, Any, Any, Callable[[], tuple[Any, ...]]]:
    fields = fields_for(info, STAGE)
    needs_uid = info.needs_uid(STAGE)
    gr.Markdown(f"**{model}** — {info.stage_help.get(STAGE) or info.summary}")
    weights_md = gr.Markdown(elem_id=f"weights-{model}")
    with gr.Column() as form:
        widgets = [_widget(gr, model, f) for f in fields]
        uid_box = gr.Dropdown(label="subject (--uid)", choices=[], elem_id=f"uid-{model}") if needs_uid else None
        device_box = gr.Dropdown(label="device", choices=list(DEVICES), value="auto", elem_id=f"device-{model}")
        run_btn = gr.Button("Run", variant="primary", elem_id=f"run-{model}")
    status = gr.Textbox(label="status", interactive=False, lines=2, elem_id=f"status-{model}")
    video = gr.Video(label="result", interactive=False, elem_id=f"result-{model}")
    download = gr.File(label="download", interactive=False, elem_id=f"download-{model}")
    with gr.Accordion("run log and manifest", open=False):
        log = gr.Code(label="log.txt", interactive=False, elem_id=f"log-{model}")
        manifest = gr.Code(label="manifest.json", language="json", interactive=False, elem_id=f"manifest-{model}")

    def job(*values: Any, progress: Any = gr.Progress()) -> tuple[Any, ...]:
        values = list(values)
        uid = values.pop(len(fields)) if needs_uid else None
        device = values.pop(len(fields))

        def report(frac: float | None, desc: str) -> None:
            progress(frac, desc=desc)

        res = run_job(model, info, fields, values, uid=uid, device=device, report=report)
        return res["status"], res["video"], res["video"], res["log"], res["manifest"]

    inputs = [*widgets, *([uid_box] if uid_box is not None else []), device_box]
    run_btn.click(
        job,
        inputs=inputs,
        outputs=[status, video, download, log, manifest],
        concurrency_limit=1,
        concurrency_id=model,
        show_progress="full",
    )

    def refresh() -> tuple[Any, ...]:
        text, runnable = _weights_markdown(model)
        updates: list[Any] = [text, gr.update(visible=runnable)]
        if uid_box is not None:
            updates.append(gr.update(choices=subjects(model)))
        return tuple(updates)

    return weights_md, form, uid_box, refresh


def page_models(selected: list[str] | None = None) -> dict[str, ModelInfo]:
    """The models that get a tab: installed, loadable, implementing ``infer`` (``selected``: only these)."""
    from tfk.registry import load_registry

    reg = load_registry()
    if selected:
        for name in selected:
            lp = reg.get(name)  # unknown / broken plugins: the CLI's clear error
            if STAGE not in lp.stages:
                raise errors.UsageError(f"{name} does not implement {STAGE}; the page only runs inference")
        names = list(dict.fromkeys(selected))
    else:
        names = sorted(n for n, lp in reg.plugins.items() if lp.ok and STAGE in lp.stages)
    return {n: reg.get(n).info for n in names}


def build_app(models: list[str] | None = None) -> Any:
    """The Gradio Blocks app (not started)."""
    import gradio as gr

    infos = page_models(models)
    theme = gr.themes.Default(font=["system-ui", "sans-serif"], font_mono=["monospace"])  # no web fonts: offline
    with gr.Blocks(title="tfk", analytics_enabled=False) as app:
        gr.Markdown("# tfk — talking-face kit\nDrop your files, press Run, watch the result.")
        if not infos:
            gr.Markdown("No installed model implements inference. `tfk models` lists what is installed.")
        refreshers = []
        for name, info in infos.items():
            with gr.Tab(name, id=name):
                weights_md, form, uid_box, refresh = _model_tab(gr, name, info)
                outs = [weights_md, form, *([uid_box] if uid_box is not None else [])]
                refreshers.append((refresh, outs))
        for refresh, outs in refreshers:
            app.load(refresh, outputs=outs)
    app._tfk_theme = theme  # type: ignore[attr-defined]
    return app


def is_loopback(host: str) -> bool:
    import ipaddress

    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def launch(
    models: list[str] | None = None,
    *,
    host: str = "127.0.0.1",
    port: int = 7860,
    max_upload_mb: int = 500,
    block: bool = True,
    on_ready: Callable[[str], None] | None = None,
) -> Any:
    """Start the page (blocking until Ctrl-C unless ``block=False``); returns the Gradio app."""
    import os
    import socket

    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    os.environ.setdefault("GRADIO_TEMP_DIR", str(jobs_root().parent / "uploads"))
    if not 0 <= port <= 65535:
        raise errors.UsageError(f"--port must be 0..65535, not {port}")
    try:
        socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError:
        raise errors.UsageError(f"--host {host!r} is not an address of this machine") from None
    if port:
        with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
            try:
                probe.bind((host, port))
            except OSError as exc:
                raise errors.TempFail(
                    f"cannot listen on {host}:{port}: {exc.strerror or exc}", hint="use --port"
                ) from None
    else:
        with socket.socket() as probe:
            probe.bind((host, 0))
            port = probe.getsockname()[1]
    app = build_app(models)
    jobs_root().mkdir(parents=True, exist_ok=True)
    app.queue(default_concurrency_limit=1)
    app.launch(
        server_name=host,
        server_port=port,
        prevent_thread_lock=True,
        quiet=True,
        show_error=False,
        max_file_size=f"{max_upload_mb}mb",
        allowed_paths=[str(jobs_root())],
        theme=app._tfk_theme,
        footer_links=[],
        ssr_mode=False,
    )
    url = f"http://{host if ':' not in host else f'[{host}]'}:{port}/"
    if on_ready is not None:
        on_ready(url)
    if block:
        try:
            while True:
                time.sleep(3600)
        finally:
            app.close()
    return app
