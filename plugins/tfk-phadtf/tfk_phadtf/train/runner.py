"""``tfk train phadtf --uid NAME [--stage audio|gan] [--preset paper|tiny]``."""

from __future__ import annotations

from typing import Any

from tfk.errors import UsageError

STAGES = ("audio", "gan")


def train_stage(ctx, options: dict[str, Any], overrides: dict | None = None) -> dict:
    from tfk_phadtf import artifacts as arts
    from tfk_phadtf.resources import resolve
    from tfk_phadtf.subject import Subject
    from tfk_phadtf.train.audio import train_audio
    from tfk_phadtf.train.config import preset
    from tfk_phadtf.train.gan import train_gan

    if ctx.workspace is None:
        raise UsageError("train phadtf needs --uid (a preprocessed target)")
    sub = Subject.from_workspace(ctx.workspace)
    stages = [s for s in (options.get("stage") or ()) if s] or list(STAGES)
    bad = [s for s in stages if s not in STAGES]
    if bad:
        raise UsageError(f"unknown stage {bad[0]!r}: choose audio or gan")
    acfg, gcfg = preset(str(options["preset"]), **(overrides or {}))
    root = ctx.workspace.path("train")
    logs = (ctx.run.dir if ctx.run is not None else root) / "tensorboard"
    resume = bool(options["resume"])
    out: dict[str, Any] = {}
    if "audio" in stages:
        init = resolve(options.get("atcnet"), arts.ATCNET, ctx.require)
        out["audio"] = train_audio(sub, init, root / "audio", acfg, resume, ctx.device, logs / "audio", ctx.progress)
    if "gan" in stages:
        init = {
            "net_g": resolve(options.get("net_g"), arts.NET_G, ctx.require),
            "net_d": resolve(options.get("net_d"), arts.NET_D, ctx.require),
            "net_mem": resolve(options.get("net_mem"), arts.NET_MEM, ctx.require),
        }
        out["gan"] = train_gan(sub, init, root / "gan", gcfg, resume, ctx.device, logs / "gan", ctx.progress)
    return out
