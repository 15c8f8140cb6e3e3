"""Jobs files: one ``(input, uid, options)`` preprocess job per CSV row, JSONL line or video in a directory.

CSV has a header with an ``input`` column, an optional ``uid`` column and one column per preprocess option
(``features``, ``resolution`` ...; an empty cell leaves the option at its default). JSONL has one object per
line: ``{"input": ..., "uid": ..., "options": {...}}`` (options may also be given as top-level keys). A
directory gives one job per video file in it (sorted by name). Relative inputs are resolved against the
jobs file's directory; a missing ``uid`` is derived from the input's file name.
"""

from __future__ import annotations

import csv
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tfk.errors import InputNotFound, UsageError

VIDEO_EXTS = (".mp4", ".mov", ".mkv", ".avi", ".webm", ".m4v", ".mpg", ".mpeg")
_BAD_UID_CHARS = re.compile(r"[^A-Za-z0-9._-]+")


@dataclass(frozen=True)
class Job:
    """One preprocess job: ``index`` is its position in the jobs file (the shard key)."""

    index: int
    input: Path
    uid: str
    options: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"index": self.index, "input": str(self.input), "uid": self.uid, "options": dict(self.options)}


def uid_from_path(path: Path) -> str:
    """A valid subject id from a file name: ``My Clip (1).mp4`` -> ``My_Clip_1``."""
    uid = _BAD_UID_CHARS.sub("_", path.stem).strip("._-")[:64]
    return uid or "clip"


def _job(index: int, where: str, base: Path, row: dict[str, Any]) -> Job:
    raw = row.pop("input", None)
    if raw in (None, ""):
        raise UsageError(f"{where}: no 'input'")
    inp = Path(str(raw)).expanduser()
    if not inp.is_absolute():
        inp = (base / inp).resolve()
    uid = str(row.pop("uid", "") or "") or uid_from_path(inp)
    opts = row.pop("options", None) or {}
    if not isinstance(opts, dict):
        raise UsageError(f"{where}: 'options' must be an object")
    opts = {**{k: v for k, v in row.items() if v not in (None, "")}, **opts}
    from tfk.workspace.workspace import check_uid

    try:
        check_uid(uid)
    except UsageError as exc:
        raise UsageError(f"{where}: {exc.message}") from None
    return Job(index, inp, uid, {str(k).replace("-", "_"): v for k, v in opts.items()})


def _from_csv(path: Path) -> list[Job]:
    with path.open(newline="", encoding="utf-8-sig") as f:
        reader = csv.DictReader(f)
        if not reader.fieldnames or "input" not in [c.strip() for c in reader.fieldnames]:
            raise UsageError(f"{path}: the CSV header needs an 'input' column (and optionally 'uid' and options)")
        jobs = []
        for n, row in enumerate(reader):
            clean = {(k or "").strip(): (v.strip() if isinstance(v, str) else v) for k, v in row.items()}
            if None in row or "" in clean:
                raise UsageError(f"{path}:{reader.line_num}: more cells than header columns")
            if not any(clean.values()):
                continue
            jobs.append(_job(n, f"{path}:{reader.line_num}", path.parent, clean))
    return jobs


def _from_jsonl(path: Path) -> list[Job]:
    jobs = []
    for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise UsageError(f"{path}:{lineno}: not valid JSON ({exc.msg})") from None
        if not isinstance(row, dict):
            raise UsageError(f"{path}:{lineno}: each line must be a JSON object")
        jobs.append(_job(len(jobs), f"{path}:{lineno}", path.parent, row))
    return jobs


def _from_dir(path: Path) -> list[Job]:
    files = sorted(p for p in path.iterdir() if p.is_file() and p.suffix.lower() in VIDEO_EXTS)
    if not files:
        raise InputNotFound(f"no video files ({', '.join(VIDEO_EXTS)}) in {path}")
    return [Job(i, p.resolve(), uid_from_path(p)) for i, p in enumerate(files)]


def load_jobs(path: str | Path) -> list[Job]:
    """Jobs of a ``.csv``, ``.jsonl``/``.json`` file or a directory of videos; uids must be unique."""
    p = Path(path).expanduser()
    if not p.exists():
        raise InputNotFound(f"jobs file not found: {p}")
    if p.is_dir():
        jobs = _from_dir(p)
    elif p.suffix.lower() in (".jsonl", ".json", ".ndjson"):
        jobs = _from_jsonl(p)
    elif p.suffix.lower() in (".csv", ".tsv", ".txt"):
        jobs = _from_csv(p)
    else:
        raise UsageError(f"{p}: jobs file must be .csv or .jsonl (or a directory of videos)")
    if not jobs:
        raise UsageError(f"{p}: no jobs")
    seen: dict[str, Job] = {}
    for job in jobs:
        if job.uid in seen:
            raise UsageError(
                f"{p}: uid {job.uid!r} is used by {seen[job.uid].input.name} and {job.input.name}",
                hint="give each row its own uid",
            )
        seen[job.uid] = job
    return jobs


def parse_shard(text: str | None) -> tuple[int, int] | None:
    """``"i/n"`` (0 <= i < n) -> ``(i, n)``; e.g. ``--shard $SLURM_ARRAY_TASK_ID/$SLURM_ARRAY_TASK_COUNT``."""
    if not text:
        return None
    m = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*", text)
    if not m or not 0 <= int(m.group(1)) < int(m.group(2)):
        raise UsageError(f"--shard {text!r}: use i/n with 0 <= i < n (e.g. 0/4)")
    return int(m.group(1)), int(m.group(2))


def select_shard(jobs: list[Job], shard: tuple[int, int] | None) -> list[Job]:
    """The deterministic slice of shard ``(i, n)``: jobs whose index is ``i`` modulo ``n``."""
    if shard is None:
        return list(jobs)
    i, n = shard
    return [j for j in jobs if j.index % n == i]
