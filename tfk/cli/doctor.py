"""``tfk doctor``: check the whole stack and say what to fix."""

from __future__ import annotations

import importlib.util
import json
import os
import platform
import shutil
from collections.abc import Callable
from typing import Any

from tfk.errors import ExitCode

Result = dict[str, str]


def _check(area: str, name: str, fn: Callable[[], tuple[str, str]], hint: str = "") -> Result:
    try:
        status, detail = fn()
    except Exception as exc:  # noqa: BLE001 - a failing check is a result, not a crash
        status, detail = "error", f"{type(exc).__name__}: {' '.join(str(exc).split())}"
    return {"area": area, "check": name, "status": status, "detail": detail, "hint": hint if status != "ok" else ""}


def _python() -> tuple[str, str]:
    return "ok", f"Python {platform.python_version()} on {platform.platform()}"


def _home() -> tuple[str, str]:
    from tfk.paths import tfk_home

    home = tfk_home()
    home.mkdir(parents=True, exist_ok=True)
    if not os.access(home, os.W_OK):
        return "error", f"{home} is not writable"
    free = shutil.disk_usage(home).free / 2**30
    return ("ok" if free > 5 else "warn"), f"{home} ({free:.1f} GiB free)"


def _ffmpeg() -> tuple[str, str]:
    from tfk.media import ffmpeg_encoders, ffmpeg_exe

    exe = ffmpeg_exe()
    enc = ffmpeg_encoders()
    missing = [e for e in ("libx264", "aac") if e not in enc]
    if missing:
        return "error", f"{exe} lacks encoders: {', '.join(missing)}"
    return "ok", f"{exe} (libx264, aac)"


def _pyav() -> tuple[str, str]:
    if importlib.util.find_spec("av") is None:
        return "error", "PyAV is not installed"
    import av

    return "ok", f"PyAV {av.__version__}"


def _torch() -> tuple[str, str]:
    if importlib.util.find_spec("torch") is None:
        return "warn", "torch is not installed (needed by every model plugin)"
    import torch

    if torch.cuda.is_available():
        return "ok", f"torch {torch.__version__}, CUDA {torch.version.cuda}, {torch.cuda.get_device_name(0)}"
    return "ok", f"torch {torch.__version__}, CPU only ({torch.get_num_threads()} threads)"


def _network() -> tuple[str, str]:
    from tfk.paths import offline

    mirror = os.environ.get("TFK_WEIGHTS_MIRROR", "")
    proxies = [k for k in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy") if os.environ.get(k)]
    parts = [f"offline={'yes' if offline() else 'no'}", f"mirror={mirror or 'none'}"]
    if proxies:
        parts.append("proxy set: " + ", ".join(proxies))
    return "ok", "; ".join(parts)


def _plugin_results(only: str | None) -> list[Result]:
    from tfk.cli.models import _weights_summary
    from tfk.registry import load_registry

    reg = load_registry()
    out: list[Result] = []
    for w in reg.warnings:
        out.append({"area": "plugins", "check": "loading", "status": "warn", "detail": w, "hint": ""})
    for name, lp in sorted(reg.plugins.items()):
        if only and name != only:
            continue
        if lp.status == "ok":
            out.append(_check("plugins", name, lambda lp=lp: ("ok", f"{lp.dist or lp.origin} {lp.version or ''}")))
        else:
            status = "warn" if lp.status in ("disabled", "unavailable") else "error"
            out.append(
                {
                    "area": "plugins",
                    "check": name,
                    "status": status,
                    "detail": f"{lp.status}: {lp.reason}",
                    "hint": f"pip install --force-reinstall {lp.dist}" if lp.dist and status == "error" else "",
                }
            )
            continue
        w = _weights_summary(lp)
        wstatus = "ok" if w.get("state") == "ready" else "warn"
        out.append(
            {
                "area": "weights",
                "check": name,
                "status": wstatus,
                "detail": f"{w.get('present', '?')}/{w.get('required', '?')} required artifacts present",
                "hint": f"tfk weights pull {name}" if wstatus != "ok" else "",
            }
        )
        try:
            checks = reg.doctor_checks(name)
        except Exception as exc:  # noqa: BLE001
            out.append(
                {
                    "area": name,
                    "check": "doctor checks",
                    "status": "error",
                    "detail": f"{type(exc).__name__}: {exc}",
                    "hint": "",
                }
            )
            continue
        for chk in checks:
            out.append(_check(name, chk.name, chk.run, chk.hint))
    if only and only not in reg.plugins:
        reg.get(only)  # raises the helpful not-installed / unknown error
    return out


def collect(only: str | None = None) -> list[Result]:
    results = [
        _check("system", "python", _python),
        _check("system", "TFK_HOME", _home, "set TFK_HOME to a writable directory with space"),
        _check("media", "ffmpeg", _ffmpeg, "pip install imageio-ffmpeg  (or install ffmpeg)"),
        _check("media", "PyAV", _pyav, "pip install av"),
        _check("compute", "torch", _torch, "pip install torch==2.13.0"),
        _check("network", "settings", _network),
    ]
    if importlib.util.find_spec("numpy") is not None:
        from tfk.face import doctor_checks as face_checks

        results += [_check("toolbox", c.name, c.run, c.hint) for c in face_checks()]
    return results + _plugin_results(only)


def run_doctor(only: str | None, as_json: bool) -> int:
    results = collect(only)
    errors_found = any(r["status"] == "error" for r in results)
    if as_json:
        import click

        click.echo(json.dumps({"ok": not errors_found, "checks": results}, indent=2))
    else:
        from rich.table import Table

        from tfk.console import err_console

        table = Table(title="tfk doctor")
        for col in ("area", "check", "status", "detail"):
            table.add_column(col, overflow="fold")
        for r in results:
            table.add_row(r["area"], r["check"], r["status"], r["detail"] + (f"  -> {r['hint']}" if r["hint"] else ""))
        err_console().print(table)
    return int(ExitCode.UNAVAILABLE) if errors_found else 0


__all__: list[Any] = ["collect", "run_doctor"]
