"""``tfk ui``: serve the local web page (Gradio) for every installed model that implements infer."""

from __future__ import annotations

import typer


def ui_cmd(
    host: str = typer.Option("127.0.0.1", "--host", help="Bind address (loopback by default)."),
    port: int = typer.Option(7860, "--port", help="TCP port (0: any free port)."),
    models: str = typer.Option("", "--models", help="Comma-separated models to show (default: all with infer)."),
    max_upload_mb: int = typer.Option(500, "--max-upload-mb", help="Largest accepted upload, MB."),
) -> None:
    """A local web page: a form per model built from its options, a Run button, the result in a player."""
    import importlib.util

    from tfk.console import err_console
    from tfk.errors import Unavailable, UsageError

    if max_upload_mb < 1:
        raise UsageError(f"--max-upload-mb must be at least 1, not {max_upload_mb}")
    if importlib.util.find_spec("gradio") is None:
        raise Unavailable("tfk ui needs Gradio, which is not installed", hint="pip install 'tfk[ui]'")
    from tfk.ui.app import is_loopback, launch

    con = err_console()
    if not is_loopback(host):
        con.print(
            f"warning: the page listens on {host}: anyone who can reach this machine on that network can use it "
            "(run jobs, upload files, read results)",
            markup=False,
            highlight=False,
        )
    selected = [m.strip() for m in models.split(",") if m.strip()] or None

    def ready(url: str) -> None:
        con.print(f"tfk ui: open {url}  (Ctrl-C to stop)", markup=False, highlight=False)
        typer.echo(url)

    launch(selected, host=host, port=port, max_upload_mb=max_upload_mb, on_ready=ready)
