"""Ordered, named, resumable steps.

Each step writes into a private temporary directory that is renamed into
``<workspace>/steps/<name>/`` when the step function returns; the step's fingerprint (step version,
parameters, input digests, upstream fingerprints) is then written last to ``.done.json``. Re-running
skips fresh steps and redoes stale ones; an interrupted step leaves nothing half-written behind.
A step declared ``resumable`` keeps its partial output across interruptions (in
``steps/<name>.partial/``, reused only while the fingerprint is unchanged) so that long per-item
work (one clip of a dataset at a time) continues where it stopped.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tfk import errors
from tfk.fsutil import atomic_write_json, sha256_file, sha256_json

if TYPE_CHECKING:
    from tfk.progress import Progress
    from tfk.workspace.workspace import Workspace

DONE = ".done.json"
PLAN = "pipeline.json"


@dataclass
class Step:
    """One step: ``fn(StepContext)`` writes its outputs into ``ctx.out``."""

    name: str
    fn: Callable[[StepContext], Any]
    version: str = "1"
    params: dict[str, Any] = field(default_factory=dict)
    inputs: Sequence[str | os.PathLike[str]] = ()
    after: Sequence[str] | None = None  # upstream steps; default: every earlier step
    resumable: bool = False
    description: str = ""


@dataclass
class StepContext:
    """What a step function gets."""

    name: str
    out: Path
    workspace: Workspace
    params: dict[str, Any]
    inputs: list[Path]
    progress: Progress | None
    info: dict[str, Any] = field(default_factory=dict)  # extra facts recorded in .done.json

    def step_dir(self, name: str) -> Path:
        """Published output directory of an upstream step."""
        d = self.workspace.step_dir(name)
        if not (d / DONE).exists():
            raise errors.ConfigError(f"step '{self.name}' needs step '{name}', which has not completed")
        return d


@dataclass(frozen=True)
class StepStatus:
    name: str
    state: str  # done | skipped | stale | missing
    reason: str = ""


def _digest(path: Path, cache: dict[str, Any]) -> str:
    """Content digest of a file or directory, cached by (size, mtime_ns)."""
    if not path.exists():
        return "missing"
    if path.is_dir():
        parts = {str(p.relative_to(path)): _digest(p, cache) for p in sorted(path.rglob("*")) if p.is_file()}
        return sha256_json(parts)
    st = path.stat()
    key = str(path.resolve())
    stamp = [st.st_size, st.st_mtime_ns]
    hit = cache.get(key)
    if hit and hit[0] == stamp:
        return hit[1]
    d = sha256_file(path)
    cache[key] = [stamp, d]
    return d


def _diff_reason(old: dict[str, Any] | None, new: dict[str, Any]) -> str:
    if old is None:
        return "never ran"
    if old.get("version") != new["version"]:
        return f"step version {old.get('version')} -> {new['version']}"
    op, np_ = old.get("params", {}), new["params"]
    for k in sorted(set(op) | set(np_)):
        if op.get(k) != np_.get(k):
            return f"params changed: {k} {op.get(k)!r} -> {np_.get(k)!r}"
    for k in sorted(set(old.get("inputs", {})) | set(new["inputs"])):
        if old.get("inputs", {}).get(k) != new["inputs"].get(k):
            return f"input changed: {k}"
    for k in sorted(set(old.get("upstream", {})) | set(new["upstream"])):
        if old.get("upstream", {}).get(k) != new["upstream"].get(k):
            return f"upstream step '{k}' changed"
    return "fingerprint changed"


class Pipeline:
    """Run an ordered list of steps in a workspace."""

    def __init__(self, workspace: Workspace, steps: Sequence[Step]):
        names = [s.name for s in steps]
        if len(set(names)) != len(names):
            raise ValueError(f"duplicate step names in {names}")
        for s in steps:
            for up in s.after or ():
                if up not in names[: names.index(s.name)]:
                    raise ValueError(f"step {s.name!r} depends on {up!r}, which does not come before it")
        self.ws = workspace
        self.steps = list(steps)
        self._digests: dict[str, Any] = {}

    # -- fingerprints ------------------------------------------------------------------------
    def _upstream(self, step: Step) -> list[str]:
        if step.after is not None:
            return list(step.after)
        return [s.name for s in self.steps[: self.steps.index(step)]]

    def _done(self, name: str) -> dict[str, Any] | None:
        p = self.ws.step_dir(name) / DONE
        try:
            return json.loads(p.read_text())
        except (FileNotFoundError, json.JSONDecodeError):
            return None

    def _spec(self, step: Step) -> dict[str, Any]:
        ups = {}
        for up in self._upstream(step):
            d = self._done(up)  # keyed on the upstream's run (not just its settings): a re-run makes us stale
            ups[up] = d.get("run", d["fingerprint"]) if d else None
        spec = {
            "version": str(step.version),
            "params": json.loads(json.dumps(step.params, sort_keys=True, default=str)),
            "inputs": {str(Path(p)): _digest(Path(p), self._digests) for p in step.inputs},
            "upstream": ups,
        }
        spec["fingerprint"] = sha256_json({k: spec[k] for k in ("version", "params", "inputs", "upstream")})
        return spec

    def status(self) -> list[StepStatus]:
        """Each step as done, skipped (it completed without its outputs: ``sc.info["skipped"]`` says why),
        stale (with why) or missing."""
        out: list[StepStatus] = []
        state: dict[str, str] = {}
        for step in self.steps:
            done = self._done(step.name)
            bad_up = [u for u in self._upstream(step) if state.get(u) in ("stale", "missing")]
            if done is not None and bad_up:
                out.append(StepStatus(step.name, "stale", f"upstream step '{bad_up[0]}' is {state[bad_up[0]]}"))
                state[step.name] = "stale"
                continue
            if done is None:
                reason = "interrupted; will resume" if self._partial(step).exists() else "not run yet"
                out.append(StepStatus(step.name, "missing", reason))
                state[step.name] = "missing"
                continue
            spec = self._spec(step)
            skipped = (done.get("info") or {}).get("skipped")
            if spec["fingerprint"] == done.get("fingerprint") and skipped:
                out.append(StepStatus(step.name, "skipped", str(skipped)))
            elif spec["fingerprint"] == done.get("fingerprint"):
                out.append(StepStatus(step.name, "done", f"completed {done.get('finished', '')}".strip()))
            else:
                out.append(StepStatus(step.name, "stale", _diff_reason(done, spec)))
            state[step.name] = out[-1].state
        return out

    # -- running ---------------------------------------------------------------------------
    def _partial(self, step: Step) -> Path:
        return self.ws.steps_dir / f"{step.name}.partial"

    def _index(self, name: str | None, default: int) -> int:
        if name is None:
            return default
        for i, s in enumerate(self.steps):
            if s.name == name:
                return i
        raise errors.UsageError(f"unknown step {name!r}; steps are: {', '.join(s.name for s in self.steps)}")

    def _write_plan(self) -> None:
        plan = [
            {
                "name": s.name,
                "version": str(s.version),
                "params": json.loads(json.dumps(s.params, sort_keys=True, default=str)),
                "inputs": [str(Path(p)) for p in s.inputs],
                "after": self._upstream(s),
                "description": s.description,
            }
            for s in self.steps
        ]
        atomic_write_json(self.ws.root / PLAN, {"model": self.ws.model, "uid": self.ws.uid, "steps": plan})

    def run(
        self,
        force: bool = False,
        from_step: str | None = None,
        until_step: str | None = None,
        progress: Progress | None = None,
    ) -> list[StepStatus]:
        """Run what is not fresh. ``from_step`` forces that step and the later ones; ``until_step``
        stops after it. Returns what happened to each step (done=ran or cached).

        Holds the workspace lock throughout: a concurrent run on the same subject waits for this one
        (or fails with LockTimeout, exit 75) instead of racing it (:mod:`tfk.workspace.lock`)."""
        from tfk.workspace.lock import workspace_lock

        self.ws.ensure()
        with workspace_lock(self.ws.root, f"subject {self.ws.uid!r} ({self.ws.model})"):
            return self._run(force, from_step, until_step, progress)

    def _run(
        self, force: bool, from_step: str | None, until_step: str | None, progress: Progress | None
    ) -> list[StepStatus]:
        self._cleanup_tmp()
        self._write_plan()
        start = self._index(from_step, 0)
        stop = self._index(until_step, len(self.steps) - 1)
        if stop < start:
            raise errors.UsageError(f"--until {until_step} comes before --from {from_step}")
        results: list[StepStatus] = []
        for i, step in enumerate(self.steps[: stop + 1]):
            spec = self._spec(step)
            done = self._done(step.name)
            forced = force or (from_step is not None and i >= start)
            if not forced and done is not None and done.get("fingerprint") == spec["fingerprint"]:
                results.append(StepStatus(step.name, "cached"))
                continue
            why = "forced" if forced else _diff_reason(done, spec)
            self._run_step(step, spec, progress, why)
            results.append(StepStatus(step.name, "ran", why))
        return results

    def _run_step(self, step: Step, spec: dict[str, Any], progress: Progress | None, why: str) -> None:
        final = self.ws.step_dir(step.name)
        if step.resumable:
            work = self._partial(step)
            stamp = work / ".fingerprint"
            if work.exists() and (not stamp.exists() or stamp.read_text() != spec["fingerprint"] or why == "forced"):
                shutil.rmtree(work)
            work.mkdir(parents=True, exist_ok=True)
            stamp.write_text(spec["fingerprint"])
        else:
            work = self.ws.steps_dir / f"{step.name}.tmp-{uuid.uuid4().hex[:8]}"
            work.mkdir(parents=True)
        ctx = StepContext(step.name, work, self.ws, dict(step.params), [Path(p) for p in step.inputs], progress)
        t0 = time.time()
        ok = False
        try:
            step.fn(ctx)
            ok = True
        except KeyboardInterrupt:
            raise errors.Interrupted(
                f"interrupted during step '{step.name}'; nothing half-written was kept",
                hint="run the same command again to resume",
            ) from None
        finally:
            if not ok and not step.resumable:
                shutil.rmtree(work, ignore_errors=True)
        (work / ".fingerprint").unlink(missing_ok=True)
        old = None
        if final.exists():
            old = final.with_name(f"{step.name}.old-{uuid.uuid4().hex[:8]}")
            os.replace(final, old)
        os.replace(work, final)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
        record = dict(
            spec,
            name=step.name,
            run=uuid.uuid4().hex,
            reason=why,
            seconds=round(time.time() - t0, 3),
            finished=time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            info=ctx.info,
        )
        atomic_write_json(final / DONE, record)

    def _cleanup_tmp(self) -> None:
        if not self.ws.steps_dir.exists():
            return
        for p in self.ws.steps_dir.iterdir():
            if ".tmp-" in p.name or ".old-" in p.name:
                with contextlib.suppress(OSError):
                    shutil.rmtree(p)


def load_plan(workspace: Workspace) -> list[Step]:
    """Steps as last planned in this workspace (for ``tfk status``), with no-op functions."""
    p = workspace.root / PLAN
    try:
        plan = json.loads(p.read_text())
    except FileNotFoundError:
        return []
    except json.JSONDecodeError as exc:
        raise errors.ConfigError(f"{p} is corrupt: {exc}") from None

    def _never(ctx: StepContext) -> None:  # pragma: no cover - status never runs steps
        raise RuntimeError("status-only step")

    return [
        Step(
            s["name"],
            _never,
            s["version"],
            s["params"],
            s["inputs"],
            s.get("after"),
            description=s.get("description", ""),
        )
        for s in plan["steps"]
    ]
