"""Per-address limits hold across server processes: the count lives in the configured shared cache."""
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.processes import free_port, wait_for

pytestmark = pytest.mark.crowd
ROOT = Path(__file__).resolve().parents[2]
# One "gunicorn worker": Django set up from the project's settings, counting new raters for one address.
COUNT_NEW_RATERS = """
import django
django.setup()
from django.test import RequestFactory
from evaluation.entry_limits import allow_new_rater
request = RequestFactory().get("/join/x/", REMOTE_ADDR="203.0.113.9")
print(sum(allow_new_rater(request) for _ in range({attempts})))
"""


def worker(environment, attempts):
    return subprocess.Popen([sys.executable, "-c", COUNT_NEW_RATERS.format(attempts=attempts)], cwd=ROOT,
                            env=environment, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def allowed(process):
    out, err = process.communicate(timeout=120)
    assert process.returncode == 0, err
    return int(out)


def settings_environment(tmp_path, **extra):
    environment = {key: value for key, value in os.environ.items() if not key.startswith(("NEURONEVAL_", "DJANGO_"))}
    environment.update(DJANGO_SETTINGS_MODULE="config.settings", NEURONEVAL_VAR_DIR=str(tmp_path / "var"),
                       NEURONEVAL_NEW_RATERS_PER_CLIENT="20", **extra)
    return environment


def test_the_default_file_cache_is_shared_by_every_process_of_the_host(tmp_path):
    environment = settings_environment(tmp_path)
    # The file cache's add and incr are not atomic, so the processes take turns here (see docs/deploy.md).
    first = allowed(worker(environment, 15))
    second = allowed(worker(environment, 15))
    assert (first, second) == (15, 5)


@pytest.mark.skipif(shutil.which("redis-server") is None, reason="redis-server is not installed (.ci/run installs it)")
def test_with_redis_processes_racing_each_other_share_one_exact_count(tmp_path):
    port = free_port()
    redis = subprocess.Popen(["redis-server", "--port", str(port), "--save", "", "--appendonly", "no"],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for(lambda: subprocess.run(["redis-cli", "-p", str(port), "ping"], capture_output=True).stdout.strip()
                 == b"PONG", 10, "redis-server did not start")
        environment = settings_environment(tmp_path, NEURONEVAL_CACHE_URL=f"redis://127.0.0.1:{port}/1")
        workers = [worker(environment, 15) for _ in range(3)]
        assert sum(allowed(process) for process in workers) == 20
    finally:
        redis.terminate()
        redis.wait(timeout=10)
