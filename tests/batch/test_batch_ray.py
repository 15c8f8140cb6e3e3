"""``tfk batch preprocess --executor ray`` against a real local Ray instance (``ray.init(num_cpus=2)``)."""

from __future__ import annotations

import json
import os
import re

import pytest

from tfk.errors import ExitCode

ray = pytest.importorskip("ray", reason="Ray is not installed (pip install 'tfk[ray]')")


@pytest.fixture
def local_ray(tmp_path_factory):
    ray.init(
        num_cpus=2,
        include_dashboard=False,
        log_to_driver=False,
        object_store_memory=80 * 1024 * 1024,
        _temp_dir=str(tmp_path_factory.mktemp("ray")),
    )
    try:
        yield ray
    finally:
        ray.shutdown()


@pytest.mark.slow
def test_ray_executor_runs_the_same_jobs_as_tasks(
    local_ray, tfk_cli, short_clip, corrupt_clip, echo_mirror, make_jobs, batch_status, tfk_home
):
    jobs = make_jobs(
        [
            {"input": short_clip, "uid": "a"},
            {"input": corrupt_clip, "uid": "bad"},
            {"input": short_clip, "uid": "flaky", "options": {"fail_code": 75, "fail_times": 1}},
        ]
    )
    args = ("--progress", "plain", "batch", "preprocess", "echo", str(jobs), "--executor", "ray", "--retry-delay", "0")
    res = tfk_cli(*args)
    assert res.exit_code == ExitCode.BAD_INPUT, res.stderr
    st = batch_status(jobs)
    got = {u: (r["state"], r["exit_code"], r["attempts"]) for u, r in st.items()}
    assert got == {"a": ("done", 0, 1), "bad": ("failed", 65, 1), "flaky": ("done", 0, 2)}
    records = [json.loads(p.read_text()) for p in (tfk_home / "batches").glob("*/echo/*.json")]
    assert len(records) == 3 and all(r["runner_pid"] not in (None, os.getpid()) for r in records)  # in Ray workers
    assert (tfk_home / "subjects" / "a" / "echo" / "steps" / "summary" / "summary.json").is_file()
    assert max(int(n) for n in re.findall(r"(\d+) running", res.stderr)) <= 2  # the cluster's 2 CPUs, 1 per job
    again = tfk_cli(*args)
    assert sorted(re.findall(r"done (\w+) \(cached", again.stderr)) == ["a", "flaky"]
    assert local_ray.is_initialized()  # a Ray the batch did not start is left running
