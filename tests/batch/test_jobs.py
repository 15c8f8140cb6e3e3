"""Jobs files (CSV, JSONL, directory), shards and the retry policy: pure logic, no child processes."""

from __future__ import annotations

import signal

import pytest

from tfk.batch.jobs import load_jobs, parse_shard, select_shard, uid_from_path
from tfk.batch.policy import RetryPolicy, by_signal, describe
from tfk.errors import InputNotFound, UsageError


def test_csv_relative_inputs_uids_and_options(tmp_path):
    sub = tmp_path / "data"
    sub.mkdir()
    (sub / "jobs.csv").write_text("input,uid,chunk,features\nclips/a.mp4,alice,10,\n/abs/My Clip (1).mp4,,,dp1\n\n")
    jobs = load_jobs(sub / "jobs.csv")
    assert [j.uid for j in jobs] == ["alice", "My_Clip_1"]
    assert jobs[0].input == (sub / "clips" / "a.mp4").resolve()  # relative to the jobs file, not the cwd
    assert jobs[0].options == {"chunk": "10"} and jobs[1].options == {"features": "dp1"}
    assert [j.index for j in jobs] == [0, 1]


def test_jsonl_with_options_object_and_top_level_keys(tmp_path):
    p = tmp_path / "jobs.jsonl"
    p.write_text('{"input": "a.mp4", "options": {"chunk": 5}}\n# comment\n')
    p.write_text(p.read_text() + '{"input": "b.mp4", "uid": "b2", "smooth": 2}\n')
    jobs = load_jobs(p)
    assert [(j.uid, j.options) for j in jobs] == [("a", {"chunk": 5}), ("b2", {"smooth": 2})]


def test_directory_gives_one_job_per_video_sorted(tmp_path):
    for name in ("b.mp4", "a.MOV", "notes.txt"):
        (tmp_path / name).write_bytes(b"x")
    jobs = load_jobs(tmp_path)
    assert [(j.index, j.uid, j.input.name) for j in jobs] == [(0, "a", "a.MOV"), (1, "b", "b.mp4")]


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("uid,chunk\nx,1\n", "'input' column"),
        ("input,uid\na.mp4,same\nb.mp4,same\n", "uid 'same' is used by a.mp4 and b.mp4"),
        ("input,uid\na.mp4,bad/uid\n", r"jobs.csv:2: invalid --uid"),
        ("input\n", "no jobs"),
    ],
)
def test_bad_jobs_files_are_usage_errors(tmp_path, text, match):
    p = tmp_path / "jobs.csv"
    p.write_text(text)
    with pytest.raises(UsageError, match=match):
        load_jobs(p)


def test_bad_jsonl_line_and_missing_file(tmp_path):
    p = tmp_path / "jobs.jsonl"
    p.write_text('{"input": "a.mp4"}\n{oops\n')
    with pytest.raises(UsageError, match=r"jobs.jsonl:2: not valid JSON"):
        load_jobs(p)
    with pytest.raises(InputNotFound):
        load_jobs(tmp_path / "nope.csv")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(InputNotFound, match="no video files"):
        load_jobs(empty)


def test_shards_partition_the_jobs_deterministically(tmp_path):
    p = tmp_path / "jobs.csv"
    p.write_text("input\n" + "".join(f"v{i}.mp4\n" for i in range(10)))
    jobs = load_jobs(p)
    parts = [select_shard(jobs, parse_shard(f"{i}/3")) for i in range(3)]
    assert sorted(j.uid for part in parts for j in part) == sorted(j.uid for j in jobs)
    assert [j.uid for j in parts[1]] == ["v1", "v4", "v7"]
    assert select_shard(jobs, parse_shard("1/3")) == parts[1]
    assert parse_shard(None) is None
    for bad in ("3/3", "1", "a/b", "-1/2"):
        with pytest.raises(UsageError, match="--shard"):
            parse_shard(bad)


def test_uid_from_awkward_names(tmp_path):
    assert uid_from_path(tmp_path / "..mp4") == "clip"
    assert uid_from_path(tmp_path / "é clip.mp4") == "clip"


def test_retry_policy_follows_the_exit_codes():
    p = RetryPolicy(retries=2, delay=1.0)
    assert [p.should_retry(75, n) for n in (1, 2, 3)] == [True, True, False]
    assert [p.should_retry(-int(signal.SIGKILL), n) for n in (1, 2, 3)] == [True, True, False]
    assert p.should_retry(137, 1) and p.should_retry(143, 1)
    assert [p.should_retry(70, n) for n in (1, 2)] == [True, False]  # a crash is retried once
    for code in (65, 66, 69, 78, 2, 1, 0):
        assert not p.should_retry(code, 1), code
    assert not p.should_retry(-int(signal.SIGTERM), 1, stopping=True)  # our own Ctrl-C is not a flake
    assert RetryPolicy(retries=0).should_retry(75, 1) is False
    assert [p.backoff(n) for n in (1, 2, 3)] == [1.0, 2.0, 4.0] and RetryPolicy(delay=50).backoff(3) == 60.0
    assert by_signal(-9) and by_signal(130) and not by_signal(65)
    assert describe(65) == "65 (BAD_INPUT)" and describe(-9) == "-9 (SIGKILL)" and describe(3) == "3"


def test_only_the_weights_preprocess_needs_are_pulled():
    from tfk.batch.runner import used_by_preprocess
    from tfk.weights.artifact import Artifact

    def art(aid: str, *used_by: str) -> Artifact:
        return Artifact(id=aid, filename="f.bin", used_by=used_by)

    assert used_by_preprocess(art("shared/deepspeech", "lawdnet", "ernerf"), "lawdnet")
    assert used_by_preprocess(art("lawdnet/own"), "lawdnet")  # untagged, its own
    assert used_by_preprocess(art("shared/x", "lawdnet:preprocess"), "lawdnet")
    assert not used_by_preprocess(art("lawdnet/vgg", "lawdnet:train"), "lawdnet")
    assert not used_by_preprocess(art("lawdnet/ckpt", "lawdnet:infer", "lawdnet:serve"), "lawdnet")
    assert not used_by_preprocess(art("shared/y", "ernerf"), "lawdnet")
