"""``tfk batch``: one stage over a whole dataset, on a local process pool or a Ray cluster.

jobs.py (jobs files, shards) · policy.py (retries by exit code) · job.py (one job = one ``tfk preprocess``
child process) · executors.py (local pool, Ray tasks) · state.py (records, logs, ``batch.json``) ·
runner.py (the scheduler) · report.py (progress).
"""

from tfk.batch.jobs import Job, load_jobs, parse_shard, select_shard
from tfk.batch.policy import RetryPolicy
from tfk.batch.runner import BatchConfig, run_batch

__all__ = ["BatchConfig", "Job", "RetryPolicy", "load_jobs", "parse_shard", "run_batch", "select_shard"]
