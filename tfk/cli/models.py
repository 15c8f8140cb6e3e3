"""``tfk models``: what is installed, what each model can do, whether it can run."""

from __future__ import annotations

from typing import Any


def _weights_summary(lp: Any) -> dict[str, Any]:
    try:
        from tfk.weights import status as weight_status
    except ImportError:
        return {"state": "unknown"}
    required = [a for a in lp.artifacts if not a.optional]
    counts: dict[str, int] = {}
    for art in required:
        st = weight_status(art)
        counts[st] = counts.get(st, 0) + 1
    present = counts.get("verified", 0) + counts.get("present-unverified", 0)
    state = "ready" if present == len(required) else ("none" if present == 0 else "partial")
    return {"state": state, "present": present, "required": len(required), "counts": counts}


def list_models() -> list[dict[str, Any]]:
    from tfk.registry import OFFICIAL, load_registry

    reg = load_registry()
    rows: list[dict[str, Any]] = []
    for name, lp in sorted(reg.plugins.items()):
        rows.append(
            {
                "name": name,
                "package": lp.dist,
                "version": lp.version,
                "status": lp.status,
                "reason": lp.reason,
                "stages": list(lp.stages),
                "summary": lp.info.summary if lp.info else "",
                "weights": _weights_summary(lp) if lp.ok or lp.status == "unavailable" else {"state": "unknown"},
            }
        )
    for name, dist in OFFICIAL.items():
        if name not in reg.plugins:
            rows.append(
                {
                    "name": name,
                    "package": dist,
                    "version": None,
                    "status": "not-installed",
                    "reason": f"pip install {dist}",
                    "stages": [],
                    "summary": "",
                    "weights": {"state": "unknown"},
                }
            )
    return rows


def render_models(rows: list[dict[str, Any]]) -> None:
    from rich.table import Table

    from tfk.console import err_console

    table = Table(title="tfk models")
    for col in ("model", "version", "status", "stages", "weights"):
        table.add_column(col)
    for r in rows:
        w = r["weights"]
        weights = f"{w['state']} ({w['present']}/{w['required']})" if "present" in w else w["state"]
        status = r["status"] + (f": {r['reason']}" if r["reason"] and r["status"] != "ok" else "")
        table.add_row(r["name"], r["version"] or "-", status, ", ".join(r["stages"]) or "-", weights)
    err_console().print(table)
    import click

    for r in rows:  # machine-readable one-liners on stdout
        click.echo(f"{r['name']}\t{r['status']}\t{','.join(r['stages'])}")
